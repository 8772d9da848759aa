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
MD_IMG = "![seen](http://127.0.0.1:9/p.png)"  # an image a document's Markdown would make the browser fetch
HOSTILE = f"""Field notes {IMG} from the lighthouse

The lighthouse keeper of Vardø counts seventeen ships every winter morning. {IMG} He writes the name of \
each ship in a blue ledger.

The keeper's blue ledger has been kept since 1897 [2] without a single missing day, see {MD_IMG} and \
{SCRIPT} in it. Template \
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

# The contrast ratio (WCAG) of each element's text colour against its nearest opaque background.
CONTRAST = """sel => [...document.querySelectorAll(sel)].map(el => {
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  let bg = null, node = el;
  while (node && node.nodeType === 1) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) { bg = c; break; }
    node = node.parentElement;
  }
  const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg || [255, 255, 255]);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
})"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium; .ci/run installs it, "
    "and CI never skips this)",
)


@contextmanager
def _served(
    corpus: Path,
    data_dir: Path,
    embeddings: LocalEmbeddings,
    *,
    auth: list[tuple[str, str]] | None = None,
    port: int | None = None,
    **overrides: Any,
) -> Iterator[str]:
    settings = rag.Settings(corpus_dir=corpus, data_dir=data_dir, **overrides)
    rag.ingest(settings, embeddings=embeddings)
    demo = build_app(rag.build_chain(settings, embeddings=embeddings), settings, per_user=auth is not None)
    try:
        yield launch(demo, port=port or free_port(), auth=auth)
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


def _ask(page: Any, url: str | None, question: str) -> tuple[Any, Any]:
    """Ask in the page (opening `url` first if given); wait for the answer to be final."""
    if url is not None:
        page.goto(url)
    box = page.locator("#rag-input textarea")
    box.wait_for()
    page.evaluate(RECORD_STREAM)
    bots = page.locator('#rag-chat [data-testid="bot"]')
    before = bots.count()
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """n => document.querySelectorAll('#rag-chat [data-testid="bot"]').length > n &&
        !document.querySelector('#rag-sources .rag-note')?.innerText.includes('Finding')""",
        arg=before,
        timeout=30_000,
    )
    page.wait_for_timeout(200)
    return bots.last, page.locator("#rag-sources")


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
        states = [s for s in page.evaluate("window.__states") if s != "…"]  # "…" while it searches
        assert states and all(answer.startswith(s) for s in states), states  # each state a prefix

        mark = sources.locator(".rag-source mark").first
        quote = mark.inner_text()
        assert quote and quote in answer and "Hanoi" in quote
        assert mark.evaluate("m => getComputedStyle(m).backgroundColor") != "rgba(0, 0, 0, 0)"
        head = sources.locator(".rag-source .rag-head").first.inner_text()
        assert "[1]" in head and ".txt" in head and "characters" in head
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function(
            "() => (document.querySelector('#rag-documents')?.innerText || '').includes('2 documents')",
            timeout=10_000,
        )
        assert ".txt" in page.locator("#rag-doc-table").inner_text()
        page.get_by_role("tab", name="Sources").click()

        # A blank question: one inline error; the next question works without a reload.
        page.locator("#rag-input textarea").fill("   ")
        page.locator("#rag-input textarea").press("Enter")
        page.get_by_text("Could not answer").first.wait_for(timeout=10_000)
        assert page.get_by_text("Could not answer").count() == 1
        bot, sources = _ask(page, None, "Who headed the Russian prosecutors' delegation to Pyongyang?")
        assert "[1]" in bot.inner_text() and "Pyongyang" in sources.inner_text()
        assert quote not in sources.inner_text()  # the panel shows the newest answer's own sources

        # Each answer keeps its own sources: clicking the first answer's [1] shows its card again.
        page.locator('#rag-chat [data-testid="bot"]').first.locator("strong", has_text="[1]").click()
        page.wait_for_function(
            "() => document.querySelector('#rag-sources')?.innerText.includes('Hanoi')", timeout=10_000
        )
        assert quote in page.locator("#rag-sources").inner_text()
        page.wait_for_timeout(900)
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

        # Contrast of the page's own text (meta, notes, cards) against white is at least 4.5:1.
        for ratio in page.evaluate(CONTRAST, "#rag-sources .rag-meta, #rag-sources .rag-head, .rag-chunk"):
            assert ratio >= 4.5, ratio

        # Undo takes the newest answer back; the panel then shows the answer that is newest now.
        page.get_by_role("button", name="Undo", exact=True).last.click()
        page.wait_for_function(
            """() => document.querySelectorAll('#rag-chat [data-testid="bot"]').length === 2""",
            timeout=10_000,
        )
        assert "delegation" in page.locator("#rag-input textarea").input_value()  # back to edit
        assert quote in page.locator("#rag-sources").inner_text()
        samples = page.locator("#rag-examples").get_by_text("Will Kim Jong Un Turn to Russia?")
        assert samples.count() >= 1  # example questions come from the indexed titles

        page.locator("#rag-new").click()
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
        bot, sources = _ask(
            page, url, "Since 1897 has the blue ledger been kept without a single missing day?"
        )
        page.wait_for_timeout(300)  # give anything that could run a moment to run
        said = bot.inner_text()
        assert "1897 [2]" in said  # the quote, shown as typed (the answerer quotes no markup)
        assert bot.locator("strong").all_inner_texts() == ["[1]"]  # the document's [2] is no marker
        panel = sources.inner_text()
        assert IMG in panel and SCRIPT in panel and "${window.pwned=2}" in panel
        assert "{{constructor.constructor('window.pwned=3')()}}" in panel
        assert "1897 [2]" in sources.locator("mark").first.inner_text() and MD_IMG in panel
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
    assert not [u for u in page.requests if u.startswith("http://127.0.0.1:9/")]  # no image fetched
    assert os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] == "1"


LEDGER = "The harbour master of Tromsø keeps a green ledger of every whaling boat since 1903."
REPORT = [
    "The delegation report was filed in Oslo.",
    "The glacier survey counted 900 crevasses in the northern valley.",
]


def _upload(page: Any, paths: list[Path]) -> None:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#rag-upload input[type=file]").set_input_files([str(p) for p in paths])


def _table(page: Any) -> str:
    return str(page.locator("#rag-doc-table").inner_text())


def test_uploads_are_indexed_live_answered_and_removed(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    from tests.test_documents import make_pdf

    page = browser_page
    files = tmp_path / "to-upload"
    files.mkdir()
    (files / "harbour notes.txt").write_text(LEDGER + "\n\nThe boats leave at dawn.\n", encoding="utf-8")
    (files / "survey.pdf").write_bytes(make_pdf([REPORT], title="Glacier Survey"))
    with _served(SEEDS, tmp_path / "data", embeddings) as url:
        page.goto(url)
        _upload(page, [files / "harbour notes.txt", files / "survey.pdf"])
        page.wait_for_function(
            """() => { const t = document.querySelector('#rag-doc-table')?.innerText || '';
            return (t.match(/your upload/g) || []).length === 2; }""",
            timeout=60_000,
        )
        table = _table(page)
        assert "harbour notes.txt" in table and "survey.pdf" in table
        page.screenshot(path=str(tmp_path / "documents.png"), full_page=True)
        page.get_by_role("tab", name="Sources").click()

        bot, sources = _ask(page, None, "Who keeps a green ledger of whaling boats?")
        assert "Tromsø" in bot.inner_text() and "harbour notes.txt" in sources.inner_text()
        bot, sources = _ask(page, None, "What did the glacier survey count?")
        assert "900 crevasses" in bot.inner_text() and "survey.pdf" in sources.inner_text()
        assert "page 1" in sources.inner_text()

        page.get_by_role("tab", name="Documents").click()
        page.locator("#rag-documents").get_by_label("Document").click()
        page.get_by_role("option", name="survey.pdf").click()
        page.get_by_role("button", name="Remove…").click()
        page.locator("#rag-confirm").click()
        page.wait_for_function(
            """() => { const t = document.querySelector('#rag-doc-table')?.innerText || '';
            return !t.includes('survey.pdf') || t.includes('removed'); }""",
            timeout=30_000,
        )
        page.get_by_role("tab", name="Sources").click()
        page.locator("#rag-new").click()
        bot, sources = _ask(page, None, "What did the glacier survey count?")
        assert "survey.pdf" not in sources.inner_text() and "900 crevasses" not in bot.inner_text()
    assert not (tmp_path / "data" / "uploads" / "local" / "survey.pdf").exists()
    assert (tmp_path / "data" / "uploads" / "local" / "harbour notes.txt").exists()


# Every distinct status of the Documents table's first upload row, as the page shows it.
RECORD_STATUS = """() => {
  window.__status = [];
  new MutationObserver(() => {
    const m = (document.querySelector('#rag-doc-table')?.innerText || '').match(/indexing \\d+%/);
    const s = m ? m[0].trim() : '';
    if (s && window.__status[window.__status.length - 1] !== s) window.__status.push(s);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_an_upload_shows_indexing_n_percent_live_then_indexed(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setattr("rag.writer.FLUSH_CHUNKS", 8)  # many store writes: the share moves every ~0.2 s
    page = browser_page
    upload = tmp_path / "ships log.txt"
    entries = (
        f"Entry {i}: the keeper logged {i} ships passing the northern cape at dawn." for i in range(700)
    )
    upload.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
    with _served(SEEDS, tmp_path / "data", embeddings, chunk_size=32, chunk_overlap=0) as url:
        page.goto(url)
        page.get_by_role("tab", name="Documents").click()
        page.evaluate(RECORD_STATUS)
        _upload(page, [upload])
        page.wait_for_function(
            "() => /indexing ([1-9]|[1-9]\\d)%/.test(document.querySelector('#rag-doc-table')?.innerText)",
            timeout=60_000,
        )
        page.screenshot(path=str(tmp_path / "indexing-percent.png"), full_page=True)
        banner, live = page.locator("#rag-progress").inner_text(), _table(page)
        assert re.search(r"now: ships log\.txt \d+%", banner), banner  # the banner names it and its share
        assert re.search(r"ships log\.txt\s+[\d,]+ of [\d,]+\s+indexing \d+%", live), live
        page.wait_for_function(
            "() => (document.querySelector('#rag-doc-table')?.innerText || '').includes('your upload')",
            timeout=120_000,
        )
        seen: list[str] = page.evaluate("() => window.__status")
        table = _table(page)
    shares = [int(m.group(1)) for s in seen if (m := re.fullmatch(r"indexing (\d+)%", s))]
    assert len(shares) >= 3 and shares == sorted(shares) and any(0 < n < 100 for n in shares), seen
    assert "ships log.txt" in table and "indexing" not in table, table


def test_conversations_reopen_after_reload_and_restart(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    page = browser_page
    port = free_port()
    with _served(SEEDS, tmp_path / "data", embeddings, port=port) as url:
        _, sources = _ask(page, url, HANOI_Q)
        quote = sources.locator("mark").first.inner_text()
        page.reload()
        page.locator("#rag-conversations").get_by_text(HANOI_Q).click()
        page.locator("#rag-sources mark").first.wait_for(timeout=10_000)
        assert page.locator("#rag-sources mark").first.inner_text() == quote
    with _served(SEEDS, tmp_path / "data", embeddings, port=port) as url:
        page.goto(url)
        page.locator("#rag-conversations").get_by_text(HANOI_Q).click()
        page.locator("#rag-sources mark").first.wait_for(timeout=10_000)
        assert page.locator("#rag-sources mark").first.inner_text() == quote
        assert HANOI_Q in page.locator("#rag-chat").inner_text()

        # The viewer opens the cited document with the quote highlighted, and offers the original.
        page.locator("#rag-open input").click()
        page.get_by_role("option").first.click()
        page.locator("#rag-view-mark").wait_for(timeout=10_000)
        assert page.locator("#rag-view-mark").inner_text() == quote
        assert page.locator("#rag-original a").first.get_attribute("href")
        page.wait_for_timeout(500)
        page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)

        # A thumbs-up is stored with the message and exported as an eval row.
        page.locator('#rag-chat [data-testid="bot"]').first.hover()
        page.locator("#rag-chat").get_by_role("button", name="Like", exact=True).first.click()
        page.wait_for_timeout(800)
    from rag.app.conversations import ConversationStore, eval_rows

    rows = list(eval_rows(ConversationStore(tmp_path / "data" / "app.sqlite3")))
    assert [r["question"] for r in rows] == [HANOI_Q] and rows[0]["evidence"][0]["quote"] == quote


def _login(page: Any, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.locator("input[type=text], input[name=username]").first.fill(user)
    page.locator("input[type=password]").first.fill(password)
    page.keyboard.press("Enter")
    page.locator("#rag-input textarea").wait_for(timeout=20_000)


def test_with_auth_users_never_see_each_others_conversations_or_uploads(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    page = browser_page
    secret = tmp_path / "ada-secret.txt"
    secret.write_text("Ada's private cipher key is kept under the blue teapot.\n", encoding="utf-8")
    users = [("ada", "lovelace"), ("bob", "babbage")]
    with _served(SEEDS, tmp_path / "data", embeddings, auth=users) as url:
        _login(page, url, "ada", "lovelace")
        _upload(page, [secret])
        page.wait_for_function(
            "() => (document.querySelector('#rag-doc-table')?.innerText || '').includes('your upload')",
            timeout=60_000,
        )
        page.get_by_role("tab", name="Sources").click()
        _, sources = _ask(page, None, "Where is the private cipher key kept?")
        assert "ada-secret.txt" in sources.inner_text()
        page.context.clear_cookies()
        _login(page, url, "bob", "babbage")
        page.wait_for_timeout(1000)
        assert "Where is the private cipher key" not in page.locator("#rag-sidebar").inner_text()
        page.get_by_role("tab", name="Documents").click()
        page.wait_for_function(
            "() => (document.querySelector('#rag-documents')?.innerText || '').includes('documents')"
        )
        assert "ada-secret" not in _table(page)
        page.get_by_role("tab", name="Sources").click()
        bot, sources = _ask(page, None, "Where is the private cipher key kept?")
        assert "teapot" not in bot.inner_text() and "ada-secret" not in sources.inner_text()


def test_phone_width_has_no_horizontal_overflow_and_sources_are_reachable(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    with _served(SEEDS, tmp_path / "data", embeddings) as url:
        bot, sources = _ask(page, url, HANOI_Q)
        bot.locator("strong", has_text="[1]").click()
        page.wait_for_timeout(1200)
        card = page.locator("#rag-sources .rag-source").first
        assert card.is_visible() and card.bounding_box()["width"] <= 390
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        for tab in ("Documents", "Settings", "Sources"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (tab, width)
    assert (tmp_path / "phone.png").stat().st_size > 10_000


def test_dead_llm_endpoint_shows_one_inline_error_and_the_next_question_works(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    from tests.openai_stub import OpenAIStub

    page = browser_page
    with OpenAIStub() as stub:
        overrides = {"openai_base_url": stub.base_url, "chat_model": "m", "llm_max_retries": 0}
        with _served(SEEDS, tmp_path / "data", embeddings, llm="openai", **overrides) as url:
            stub.fail(500, times=1)
            bot, _ = _ask(page, url, HANOI_Q)
            assert "Could not answer" in bot.inner_text() and "chat endpoint" in bot.inner_text()
            assert page.get_by_text("Could not answer").count() == 1
            assert page.locator("#rag-input textarea").input_value() == HANOI_Q  # kept to retry
            stub.reply("Trump walked out of the summit in Hanoi [1].")
            bot, sources = _ask(page, None, HANOI_Q)
            assert "walked out" in bot.inner_text() and sources.locator(".rag-source").count() >= 1
            page.screenshot(path=str(tmp_path / "llm-error.png"), full_page=True)


def test_the_start_up_page_shows_the_first_index_then_turns_into_the_chat(
    browser_page: Any, tmp_path: Path, embeddings: LocalEmbeddings
) -> None:
    from rag.app.indexer import Indexer
    from rag.app.starting import StartupPage

    corpus = tmp_path / "notes"
    corpus.mkdir()
    for i in range(120):
        (corpus / f"note-{i:03d}.txt").write_text(f"Field note {i}. The station logged {i} birds.\n")
    hostile = f"zz {IMG}.txt"  # read last: named on the page while the passages are embedded
    (corpus / hostile).write_text("The lighthouse keeper counts seventeen ships.\n", encoding="utf-8")
    settings = rag.Settings(corpus_dir=corpus, data_dir=tmp_path / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    page = browser_page
    with StartupPage("127.0.0.1", port) as starting:
        page.goto(url)
        page.locator("#rag-starting").wait_for()
        page.wait_for_timeout(700)  # a status or two: no index given yet (as with --no-ingest)
        assert page.locator("#rag-startup-index").is_hidden()
        indexer = Indexer(settings, embeddings)
        indexer.sync_corpus()
        starting.show_index(indexer.progress)
        page.wait_for_function(
            """() => /^Indexing: \\d+ of 121 files/.test(document.getElementById("rag-index-line").innerText)
              && document.getElementById("rag-index-now").innerText.includes("<img")""",
            timeout=30_000,
        )
        now = page.locator("#rag-index-now")
        assert now.inner_text() == f"Now: {hostile}"  # the name as text, not as markup
        assert page.locator("main img").count() == 0 and page.title() == "rag: starting"
        bar = page.evaluate("(b => [b.max, b.hidden])(document.getElementById('rag-index-bar'))")
        assert bar == [121, False]
        page.screenshot(path=str(tmp_path / "starting-progress.png"), full_page=True)
        assert indexer.wait(300)
        page.wait_for_function(
            "() => document.querySelector('#rag-index-line').textContent.startsWith('Indexed: 121 files')",
            timeout=10_000,
        )
        assert page.locator("#rag-index-bar").is_hidden()
        page.screenshot(path=str(tmp_path / "starting-indexed.png"), full_page=True)
    # The chat takes the port: the page reloads itself into it, no click.
    demo = build_app(rag.build_chain(settings, embeddings=embeddings), settings, indexer=indexer)
    try:
        launch(demo, port=port)
        page.locator("#rag-input textarea").wait_for(timeout=30_000)
        assert page.locator("#rag-starting").count() == 0 and page.title() != "pwned"
    finally:
        demo.close()
    assert (tmp_path / "starting-progress.png").stat().st_size > 5_000


def test_serve_answers_at_once_on_a_fresh_data_dir_and_shows_indexing_progress(
    browser_page: Any, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    corpus = tmp_path / "big"
    corpus.mkdir()
    for i in range(400):  # ~15 s of embedding on 2 cores: still running when the chat page is up
        (corpus / f"note-{i:04d}.txt").write_text(
            f"Field note {i}. The station logged {i} birds on the northern ridge today.\n" * 6,
            encoding="utf-8",
        )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_"))}
    began = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "serve",
            "--port",
            str(port),
            "--corpus",
            str(corpus),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    url, statuses, chat_up = f"http://127.0.0.1:{port}/", [], threading.Event()

    def watch_status() -> None:  # what the start-up page says about the index, until the chat is up
        while not chat_up.is_set() and time.monotonic() - began < 90 and proc.poll() is None:
            try:
                with opener.open(url + "startup-status", timeout=2) as r:
                    if r.headers.get("X-Rag-Starting") != "1":
                        break
                    statuses.append(json.loads(r.read()))
            except OSError as e:
                if getattr(e, "code", None) == 404:  # Gradio's answer: the chat is up
                    break
            time.sleep(0.05)

    try:
        served, starting = None, False
        while time.monotonic() - began < 40 and proc.poll() is None:
            try:
                with opener.open(url, timeout=1) as r:
                    if r.status == 200:
                        served = time.monotonic() - began
                        starting = r.headers.get("X-Rag-Starting") == "1"
                        break
            except OSError:
                time.sleep(0.05)
        # The budget (6 s) is measured by `bench.serve` on a quiet machine; here the point is that
        # the page is served at once, while the first index of 400 files still runs.
        assert served is not None and served < 30.0, served
        # The first answer is the start-up page, bound before gradio is imported.
        assert starting, "the first page served was not the start-up page"
        watcher = threading.Thread(target=watch_status)
        watcher.start()
        page = browser_page
        page.goto(url)
        if page.locator("#rag-starting").count():
            page.screenshot(path=str(tmp_path / "starting.png"), full_page=True)
        # It reloads itself into the chat page once Gradio serves the port.
        page.locator("#rag-progress .rag-warn").wait_for(timeout=60_000)
        chat_up.set()
        watcher.join()
        text = page.locator("#rag-progress").inner_text()
        assert "Indexing" in text and "of 400 files" in text
        page.screenshot(path=str(tmp_path / "indexing.png"), full_page=True)
        # Before the chat took over, the start-up page said how the index was getting on.
        lines = [s["index"]["line"] for s in statuses if s.get("index")]
        assert lines, statuses[-3:]
        shown = ("Finding your documents…", "Found 400 files: indexing starts", "Indexing: ")
        assert all(line.startswith(shown) for line in lines), lines
        assert all("of 400 files" in line for line in lines if line.startswith("Indexing")), lines
        (tmp_path / "serve-seconds.txt").write_text(f"{served:.2f}\n")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
