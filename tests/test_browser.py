"""The chat page in a real browser: Playwright driving Debian's Chromium (never a browser of its own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import rag
from rag.app import build_app, launch
from rag.embeddings import LocalEmbeddings
from tests.conftest import SEEDS, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HANOI_Q = "Why did the Hanoi summit collapse?"
IMG = """<img src=x onerror="document.title='pwned'">"""
SCRIPT = "<script>window.pwned=1</script>"
HOSTILE = f"""Field notes {IMG} from the lighthouse

The lighthouse keeper of Vardø counts seventeen ships every winter morning. {IMG} He writes the name of \
each ship in a blue ledger.

{SCRIPT} The keeper's blue ledger has been kept since 1897 without a single missing day. Template \
text ${{window.pwned=2}} and {{{{constructor.constructor('window.pwned=3')()}}}} stays text.

In spring the ships return to the harbour and the keeper paints the lighthouse white.
"""
# Every text state of the newest bot message, recorded as the DOM changes (to see the answer stream in).
RECORD_STREAM = """() => {
  window.__states = [];
  new MutationObserver(() => {
    const bots = document.querySelectorAll('#rag-chat [data-testid="bot"]');
    const text = bots.length ? bots[bots.length - 1].innerText.trim() : "";
    if (text && window.__states[window.__states.length - 1] !== text) window.__states.push(text);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it)",
)


@contextmanager
def _served(corpus: Path, data_dir: Path, embeddings: LocalEmbeddings) -> Iterator[str]:
    settings = rag.Settings(corpus_dir=corpus, data_dir=data_dir)
    rag.ingest(settings, embeddings=embeddings)
    demo = build_app(rag.build_chain(settings, embeddings=embeddings), settings)
    try:
        yield launch(demo, port=free_port())
    finally:
        demo.close()


@pytest.fixture
def browser_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh Chromium profile and page; records every request URL and dialog on the page."""
    monkeypatch.setenv("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        page = context.new_page()
        page.requests = []  # type: ignore[attr-defined]
        page.dialogs = []  # type: ignore[attr-defined]
        page.on("request", lambda r: page.requests.append(r.url))
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        try:
            yield page
        finally:
            context.close()


def _ask(page: Any, url: str, question: str) -> tuple[Any, Any]:
    page.goto(url)
    box = page.locator("textarea").first
    box.wait_for()
    page.evaluate(RECORD_STREAM)
    box.fill(question)
    box.press("Enter")
    sources = page.locator("#rag-sources")
    sources.locator(".rag-source, .rag-refusal").first.wait_for(timeout=30_000)
    return page.locator('#rag-chat [data-testid="bot"]').last, sources


def _offsite(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))]


def test_hanoi_question_streams_a_cited_answer_with_the_quote_highlighted(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    page = browser_page
    with _served(SEEDS, tmp_path / "data", embeddings) as url:
        bot, sources = _ask(page, url, HANOI_Q)
        answer = bot.inner_text()
        assert "[1]" in answer and "Hanoi" in answer
        states = page.evaluate("window.__states")
        assert states and all(answer.startswith(s) for s in states), states  # each state a prefix

        mark = sources.locator(".rag-source mark").first
        quote = mark.inner_text()
        assert quote and quote in answer and "Hanoi" in quote
        assert mark.evaluate("m => getComputedStyle(m).backgroundColor") != "rgba(0, 0, 0, 0)"
        head = sources.locator(".rag-source .rag-head").first.inner_text()
        assert "[1]" in head and ".txt" in head and "characters" in head
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

        page.get_by_text("Corpus", exact=True).click()
        corpus = page.locator("#rag-corpus")  # filled when the page loaded
        page.wait_for_function(
            "() => (document.querySelector('#rag-corpus')?.innerText || '').includes('2 documents')",
            timeout=10_000,
        )
        assert "2 documents" in corpus.inner_text() and "all-MiniLM-L6-v2" in corpus.inner_text()

        page.locator("#rag-clear").click()
        page.wait_for_function("""() => !document.querySelector('#rag-chat [data-testid="bot"]')""")
        assert "Ask a question" in sources.inner_text()
    assert (tmp_path / "chat.png").stat().st_size > 10_000
    assert _offsite(page.requests) == []  # fonts and scripts come from the app itself: works offline


def test_html_and_script_in_a_document_show_as_text_and_never_run(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    page = browser_page
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "field-notes.txt").write_text(HOSTILE, encoding="utf-8")
    with _served(corpus, tmp_path / "data", embeddings) as url:
        bot, sources = _ask(page, url, "Since when has the blue ledger been kept?")
        page.wait_for_timeout(300)  # give anything that could run a moment to run
        assert SCRIPT in bot.inner_text()  # the quoted sentence, shown as typed
        panel = sources.inner_text()
        assert IMG in panel and SCRIPT in panel and "${window.pwned=2}" in panel
        assert "{{constructor.constructor('window.pwned=3')()}}" in panel
        assert sources.locator("mark").first.inner_text().startswith(SCRIPT)
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)

        assert page.title() == "rag: ask your documents"
        assert page.evaluate("typeof window.pwned") == "undefined"
        assert (
            page.evaluate("""() => [...document.querySelectorAll('img')]
            .filter(i => i.getAttribute('src') === 'x').length""")
            == 0
        )
        assert (
            page.evaluate("""() => [...document.scripts]
            .filter(s => s.textContent.includes('window.pwned=1')).length""")
            == 0
        )
    assert page.dialogs == [] and _offsite(page.requests) == []
    assert os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] == "1"
