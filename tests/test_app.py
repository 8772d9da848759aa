"""The chat page over real HTTP: a real server on loopback, called with `gradio_client`."""

from __future__ import annotations

import html
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError

import rag
from rag.app import build_app, highlight, launch, message_markdown, sources_html
from rag.embeddings import LocalEmbeddings
from rag.schema import Answer, Citation, Passage
from tests.conftest import HANOI_2024, RUSSIA_2019, SEEDS, free_port
from tests.openai_stub import OpenAIStub

HANOI_Q = "Why did the Hanoi summit collapse?"
FOLLOW_UP = "What did he reject there?"  # searched with HANOI_Q when it follows it
WALKED_OUT = "Trump walked out of the summit in Hanoi"

Serve = Callable[..., str]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embeddings: LocalEmbeddings) -> Path:
    """Index the seeds once for the module."""
    folder = tmp_path_factory.mktemp("app") / "data"
    rag.ingest(rag.Settings(corpus_dir=SEEDS, data_dir=folder), embeddings=embeddings)
    return folder


@pytest.fixture(scope="module")
def url(data_dir: Path, embeddings: LocalEmbeddings) -> Iterator[str]:
    """One page with the default settings, shared by the module (each client is its own session)."""
    settings = rag.Settings(corpus_dir=SEEDS, data_dir=data_dir)
    demo = build_app(rag.build_chain(settings, embeddings=embeddings), settings)
    yield launch(demo, port=free_port())
    demo.close()


@pytest.fixture
def serve(data_dir: Path, embeddings: LocalEmbeddings) -> Iterator[Serve]:
    """Serve the page over the indexed seeds on a free loopback port; return its URL."""
    demos: list[Any] = []

    def start(*, auth: tuple[str, str] | None = None, max_file_mb: float = 20.0, **overrides: Any) -> str:
        settings = rag.Settings(corpus_dir=SEEDS, data_dir=data_dir, **overrides)
        chain = rag.build_chain(settings, embeddings=embeddings)
        demo = build_app(chain, settings, per_user=auth is not None)
        demos.append(demo)
        return launch(demo, port=free_port(), auth=auth, max_file_mb=max_file_mb)

    yield start
    for demo in demos:
        demo.close()


def _client(url: str, **kwargs: Any) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, download_files=False, **kwargs)


def test_chat_answers_with_sources_and_the_session_keeps_the_history(url: str) -> None:
    client = _client(url)
    job = client.submit(HANOI_Q, api_name="/chat")
    text, sources, answer = job.result(timeout=60)
    streamed = [out[0] for out in job.outputs()]
    assert len(streamed) > 1 and streamed[-1] == text  # the answer arrives sentence by sentence
    assert all(text.startswith(partial) for partial in streamed)

    assert "[1]" in text and not answer["refused"] and answer["mode"] == "extractive"
    first = answer["citations"][0]
    assert first["source"] in {HANOI_2024, RUSSIA_2019}
    assert first["quote"] in (SEEDS / first["source"]).read_text()[first["start"] : first["end"]]
    assert f"<mark>{html.escape(first['quote'])}</mark>" in sources
    assert html.escape(first["title"]) in sources and first["source"] in sources

    # The same client is the same session: the follow-up is searched together with the question before.
    text, sources, answer = client.predict(FOLLOW_UP, api_name="/chat")
    assert not answer["refused"] and WALKED_OUT in text
    assert answer["history_used"] and "Hanoi" in answer["retrieval_query"]
    searched = f"Searched: “{html.escape(answer['retrieval_query'])}” (with the previous question)"
    assert searched in sources  # the Sources panel says what was searched, and that history went in

    # A new client is a new session with no history: the follow-up is searched alone.
    text, sources, answer = _client(url).predict(FOLLOW_UP, api_name="/chat")
    assert not answer["history_used"] and answer["retrieval_query"] == FOLLOW_UP
    assert f"Searched: “{html.escape(FOLLOW_UP)}”</span>" in sources

    text, sources, answer = _client(url).predict("What is a good recipe for kimchi?", api_name="/chat")
    assert answer["refused"] and "couldn't find this in the documents" in text
    assert "rag-refusal" in sources and "<mark>" not in sources


def test_concurrent_sessions_keep_their_own_history(url: str) -> None:

    def session(with_history: bool) -> bool:
        client = _client(url)
        if with_history:
            client.predict(HANOI_Q, api_name="/chat")
        _, _, answer = client.predict(FOLLOW_UP, api_name="/chat")
        return bool(answer["history_used"])

    kinds = [True, False] * 3
    with ThreadPoolExecutor(len(kinds)) as pool:
        used = list(pool.map(session, kinds))
    assert used == kinds


def test_user_errors_come_back_as_one_line_messages(url: str) -> None:
    client = _client(url)
    with pytest.raises(AppError) as caught:
        client.predict("   ", api_name="/chat")
    message = str(caught.value)
    assert "the question is empty" in message and "Traceback" not in message
    with pytest.raises(AppError):  # openai is not offered without a key or a base URL
        client.predict(HANOI_Q, "openai", api_name="/chat")


def test_settings_change_retrieval_and_k(url: str) -> None:
    client = _client(url)
    _, _, answer = client.predict(HANOI_Q, "extractive", 1, "bm25", api_name="/chat")
    assert not answer["refused"] and {c["n"] for c in answer["citations"]} == {1}


def test_auth_is_required_when_set(serve: Serve) -> None:
    locked = serve(auth=("ada", "lovelace"))
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        _client(locked)
    with pytest.raises(ValueError, match="Could not login"):
        _client(locked, auth=("ada", "wrong"))
    _, _, answer = _client(locked, auth=("ada", "lovelace")).predict(HANOI_Q, api_name="/chat")
    assert not answer["refused"]


def test_openai_mode_marks_unsupported_sentences(
    serve: Serve, data_dir: Path, embeddings: LocalEmbeddings
) -> None:
    hits = rag.open_retriever(rag.Settings(corpus_dir=SEEDS, data_dir=data_dir), embeddings).search(HANOI_Q)
    n = next(i for i, h in enumerate(hits, start=1) if WALKED_OUT in h.text)
    with OpenAIStub() as stub:
        # A base URL makes openai available; the page still starts with the extractive answerer.
        page = serve(openai_base_url=stub.base_url, chat_model="test-model", llm_max_retries=0)
        stub.reply(
            f"Trump walked out of the summit in Hanoi, rejecting Kim's offer to dismantle the Yongbyon "
            f"nuclear facility in return for sanctions relief [{n}]. "
            f"Afterwards both leaders went on a fishing trip to celebrate their friendship [{n}]."
        )
        text, sources, answer = _client(page).predict(HANOI_Q, "openai", api_name="/chat")
    assert answer["mode"] == "openai" and answer["unsupported"] == [1] and "fishing" in text
    assert "rag-unsupported" in sources and "fishing trip" in sources and "<mark>" in sources
    shown = message_markdown(Answer(**answer, sentences=[text.split(". ")[0] + ".", "fishing"]))
    assert shown.count("**(unsupported)**") == 1 and shown.endswith("fishing **(unsupported)**")


def _citation(quote_at: int, quote: str) -> Citation:
    return Citation(
        n=1,
        source="evil<b>.txt",
        title="<img src=x onerror=alert(1)>",
        page=None,
        start=100 + quote_at,
        end=100 + quote_at + len(quote),
        quote=quote,
        score=0.9,
    )


def _answer(chunk: str, c: Citation) -> Answer:
    passage = Passage(
        rank=1,
        id="p1",
        source=c.source,
        title=c.title,
        page=None,
        start=100,
        end=100 + len(chunk),
        score=1.0,
        text=chunk,
    )
    return Answer(
        text=f"{c.quote} [1]",
        citations=[c],
        mode="extractive",
        sentences=[f"{c.quote} [1]"],
        passages=[passage],
    )


def test_rendering_escapes_document_text_and_marks_only_the_quote() -> None:
    chunk = "Before <script>x()</script>. The <b>quoted</b> words. After & more."
    quote = "The <b>quoted</b> words."
    c = _citation(chunk.index(quote), quote)
    answer = _answer(chunk, c)
    assert highlight(answer, c) == (
        "Before &lt;script&gt;x()&lt;/script&gt;. <mark>The &lt;b&gt;quoted&lt;/b&gt; words.</mark>"
        " After &amp; more."
    )
    panel = sources_html(answer)
    assert "<script>" not in panel and "<img" not in panel and "<b>quoted" not in panel
    assert "&lt;img src=x onerror=alert(1)&gt;" in panel and "evil&lt;b&gt;.txt" in panel
    # In the chat's Markdown the document's tags are escaped text; only our marker is bold.
    assert message_markdown(answer) == "The \\<b\\>quoted\\<\\/b\\> words\\. **\\[1\\]**"
    # A citation outside the answer's passages shows the quote alone.
    stray = _citation(10_000, quote)
    assert highlight(answer, stray) == "<mark>The &lt;b&gt;quoted&lt;/b&gt; words.</mark>"


def test_the_sources_panel_says_what_was_searched_and_whether_history_went_in() -> None:
    chunk = "The quoted words. After."
    answer = _answer(chunk, _citation(0, "The quoted words."))
    follow_up = answer.model_copy(
        update={"retrieval_query": 'And <img src=x onerror="alert(1)"> then?', "history_used": True}
    )
    panel = sources_html(follow_up)
    searched = (
        "Searched: “And &lt;img src=x onerror=&quot;alert(1)&quot;&gt; then?” (with the previous question)"
    )
    assert searched in panel and "<img src=x" not in panel  # the query is the user's text: escaped
    alone = sources_html(answer.model_copy(update={"retrieval_query": "Who walked out?"}))
    assert "Searched: “Who walked out?”</span>" in alone and "previous question" not in alone


def test_importing_rag_does_not_import_gradio() -> None:
    code = "import sys, rag, rag.cli; assert 'gradio' not in sys.modules, 'gradio was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_dead_llm_endpoint_is_a_visible_message_and_the_page_stays_usable(
    serve: Serve, capfd: pytest.CaptureFixture[str]
) -> None:
    sentinel = "sk-test-SENTINEL-never-printed"
    with OpenAIStub() as stub:
        page = serve(
            openai_base_url=stub.base_url,
            openai_api_key=sentinel,
            chat_model="m",
            llm_max_retries=1,
            llm_timeout=5,
        )
        stub.fail(500, times=2)  # the first try and its one retry
        client = _client(page)
        with pytest.raises(AppError) as caught:
            client.predict(HANOI_Q, "openai", api_name="/chat")
        message = str(caught.value)
        assert "the chat endpoint" in message and "failed after 2 tries" in message and "\n" not in message
        assert sentinel not in message
        # The page still answers: the extractive answerer, and openai again once the endpoint is back.
        _, _, answer = client.predict(HANOI_Q, "extractive", api_name="/chat")
        assert not answer["refused"]
        stub.reply("Trump walked out of the summit in Hanoi [1].")
        _, _, answer = _client(page).predict(HANOI_Q, "openai", api_name="/chat")
        assert answer["mode"] == "openai" and not answer["refused"]
        assert any(r["headers"].get("authorization") == f"Bearer {sentinel}" for r in stub.requests)
    out, err = capfd.readouterr()
    assert sentinel not in out and sentinel not in err  # nothing the server logged carries the key


def test_markdown_from_documents_is_inert_and_only_our_markers_are_markers() -> None:
    quote = "See ![x](http://127.0.0.1:9/p.png) and [2] at www.example.com or <b>http://x.y</b>."
    c = _citation(0, quote)
    shown = message_markdown(_answer(quote + " tail", c))
    assert "![" not in shown and "](" not in shown and "http://" not in shown and "www." not in shown
    assert "\\[2\\]" in shown and "**\\[2\\]**" not in shown  # the document's [2] is text
    assert shown.endswith("**\\[1\\]**")  # the answerer's marker


def test_blocking_the_wide_open_host_without_auth(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rag.cli import app

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "refusing to listen on 0.0.0.0 without a login" in result.output


def test_the_upload_route_has_a_size_limit(serve: Serve) -> None:
    import urllib.error
    import urllib.request

    page = serve(max_file_mb=0.01)  # 10 kB
    boundary = "rag-test-boundary"

    def post(size: int) -> int:
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + b"x" * size
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            page + "gradio_api/upload",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    assert post(1_000) == 200
    assert post(200_000) == 413


def test_the_start_up_page_answers_at_once_then_frees_the_port_for_the_chat() -> None:
    import socket
    import urllib.error
    import urllib.request

    from rag.app.starting import MARK, StartupPage
    from rag.errors import ConfigError

    port = free_port()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with StartupPage("127.0.0.1", port):
        with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as r:
            page = r.read().decode()
            assert r.status == 200 and r.headers.get(MARK) == "1"
        assert 'id="rag-starting"' in page and "location.reload()" in page
        with pytest.raises(urllib.error.HTTPError) as e:  # the chat's routes are not there yet
            opener.open(f"http://127.0.0.1:{port}/config", timeout=5)
        assert e.value.code == 503 and e.value.headers.get(MARK) == "1"
        with pytest.raises(ConfigError, match=f"cannot serve on 127.0.0.1:{port}"):
            StartupPage("127.0.0.1", port)  # the port is taken: one line, as launch says it
    with socket.socket() as s:  # closed: the chat can bind the same port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
