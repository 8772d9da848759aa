"""The chat window: a Gradio page over `RagChain`, with a sources panel that shows each quote in place.

Thin on purpose: answering is `RagChain.stream`; this module only renders. Document text is untrusted,
so every piece of it is html-escaped before it reaches the page, and the only markup added around it is
our own (`<mark>` for the quote, the panel's layout).
"""

from __future__ import annotations

import html
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast, get_args

from rag.offline import apply_offline_env

apply_offline_env()  # before gradio is imported: no analytics, no version check

import gradio as gr  # noqa: E402

from rag.chain import RagChain  # noqa: E402
from rag.errors import ConfigError, RagError  # noqa: E402
from rag.schema import Answer, Citation, to_chat_input  # noqa: E402
from rag.settings import LLMMode, RetrievalMode, Settings  # noqa: E402

log = logging.getLogger(__name__)
RETRIEVAL_MODES: tuple[str, ...] = get_args(RetrievalMode)

EXAMPLES = [
    "Why did the Hanoi summit collapse?",
    "What does North Korea get from Russia?",
    "What did Trump say about Kim?",
]
EMPTY_SOURCES = (
    '<p class="rag-note">Ask a question: the passages its answer cites appear here, '
    "with the quoted words highlighted.</p>"
)
PENDING_SOURCES = '<p class="rag-note">Finding the passages…</p>'
# Scoped to the HTML component by Gradio; plain CSS (no backticks, no ${}), it is a JS template.
CSS = """
.rag-note { color: var(--body-text-color-subdued); }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0 0 0.6em; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 0.6em 0.8em; margin: 0 0 0.7em; }
.rag-head { font-size: 0.95em; margin-bottom: 0.3em; }
.rag-n { font-weight: 700; color: var(--color-accent); }
.rag-chunk { white-space: pre-wrap; font-size: 0.9em; line-height: 1.45; margin: 0; }
.rag-chunk mark { background: #fde68a; color: #111; padding: 0 0.1em; border-radius: 2px; }
.rag-refusal, .rag-unsupported { border-left: 4px solid #d97706; background: rgba(217, 119, 6, 0.1);
  padding: 0.6em 0.8em; border-radius: 4px; margin: 0 0 0.7em; }
.rag-corpus td, .rag-corpus th { padding: 0.2em 0.5em; text-align: left; }
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _md(text: str) -> str:
    """Make answer text safe for the chat's Markdown: tags in it are shown, never parsed."""
    return html.escape(text, quote=False)


def highlight(answer: Answer, citation: Citation) -> str:
    """Return the passage a citation quotes, escaped, with the quote inside `<mark>`."""
    passage = answer.passage_of(citation)
    quote = citation.quote
    if passage is None:  # no context to show: the quote alone
        return f"<mark>{_esc(quote)}</mark>"
    chunk = passage.text
    a = citation.start - passage.start
    b = a + len(quote)
    return f"{_esc(chunk[:a])}<mark>{_esc(chunk[a:b])}</mark>{_esc(chunk[b:])}"


def message_markdown(answer: Answer) -> str:
    """Render the final answer for the chat: refusals and unsupported sentences marked."""
    if answer.refused:
        return f"⚠️ *{_md(answer.text)}*"
    unsupported = set(answer.unsupported)
    if answer.sentences and unsupported:
        return " ".join(
            f"{_md(s)} **⚠️ unsupported**" if i in unsupported else _md(s)
            for i, s in enumerate(answer.sentences)
        )
    return _md(answer.text)


def sources_html(answer: Answer) -> str:
    """Render the sources panel for one answer: each citation's file, page and quote in context."""
    meta = (
        f'<p class="rag-meta">Answered by <b>{_esc(answer.mode)}</b> · searched for '
        f"“{_esc(answer.retrieval_query or answer.question)}” · "
        f"{answer.timings.get('total_ms', 0):.0f} ms</p>"
    )
    if answer.refused:
        return meta + (
            '<div class="rag-refusal"><b>No answer in the documents.</b> No passage supports one '
            "well enough, so nothing is cited.</div>"
        )
    parts = [meta]
    if answer.unsupported and answer.sentences:
        items = "".join(
            f"<li>{_esc(answer.sentences[i])}</li>" for i in answer.unsupported if i < len(answer.sentences)
        )
        parts.append(
            '<div class="rag-unsupported"><b>Not supported by the cited passages</b> '
            f"(marked ⚠️ in the answer):<ul>{items}</ul></div>"
        )
    if not answer.citations:
        parts.append('<p class="rag-note">This answer cites no passage.</p>')
    for c in answer.citations:
        page = f" · page {c.page}" if c.page is not None else ""
        parts.append(
            f'<div class="rag-source" id="rag-source-{c.n}">'
            f'<div class="rag-head"><span class="rag-n">[{c.n}]</span> <b>{_esc(c.title)}</b><br>'
            f"<code>{_esc(c.source)}</code>{page} · characters {c.start}–{c.end} · "
            f"support {c.score:.2f}</div>"
            f'<blockquote class="rag-chunk">{highlight(answer, c)}</blockquote></div>'
        )
    return "".join(parts)


MAX_CORPUS_ROWS = 200  # documents listed in the Corpus panel; the rest are counted


def corpus_html(chain: RagChain, settings: Settings) -> str:
    """Describe the index: its documents with chunk counts, the embedding model and the store."""
    store = chain.retriever.store
    counts: Counter[str] = Counter()
    titles: dict[str, str] = {}
    try:
        for record in store.iter_records():
            source = str(record.metadata.get("source", "?"))
            counts[source] += 1
            titles.setdefault(source, str(record.metadata.get("title", "")))
    except RagError as e:
        return f'<p class="rag-refusal">{_esc(str(e))}</p>'
    listed = sorted(counts.items())[:MAX_CORPUS_ROWS]
    rows = "".join(
        f"<tr><td>{_esc(titles[s] or s)}<br><code>{_esc(s)}</code></td><td>{n}</td></tr>" for s, n in listed
    )
    more = len(counts) - len(listed)
    rest = f"<p>… and {more:,} more documents.</p>" if more > 0 else ""
    return (
        f"<p>{len(counts):,} documents · {sum(counts.values()):,} chunks<br>"
        f"Embedding model: <code>{_esc(settings.embedding_model_id)}</code><br>"
        f"Store: <code>{_esc(store.location)}</code></p>"
        f'<table class="rag-corpus"><tr><th>document</th><th>chunks</th></tr>{rows}</table>{rest}'
    )


class _CorpusPanel:
    """The Corpus panel's HTML, rebuilt only when the collection changed.

    Reading every chunk's metadata takes about 1 s per 16,000 chunks, so the panel is filled when
    a page loads (not while the server starts) and kept until the store's generation or count moves.
    """

    def __init__(self, chain: RagChain, settings: Settings) -> None:
        self.chain, self.settings = chain, settings
        self._key: tuple[str, int] | None = None
        self._html = ""
        self._lock = threading.Lock()

    def html(self) -> str:
        store = self.chain.retriever.store
        with self._lock:
            try:
                key = (store.generation(), store.count())
            except RagError as e:
                return f'<p class="rag-refusal">{_esc(str(e))}</p>'
            if key != self._key:
                self._html, self._key = corpus_html(self.chain, self.settings), key
            return self._html


def _mode_choices(chain: RagChain, settings: Settings) -> list[tuple[str, str]]:
    choices = [("extractive: quotes the best passage sentences (offline, no model)", "extractive")]
    if chain.mode == "openai" or settings.openai_api_key is not None or settings.openai_base_url:
        where = settings.openai_base_url or "api.openai.com"
        choices.append((f"openai: {settings.chat_model} at {where} writes the answer", "openai"))
    return choices


def build_app(chain: RagChain, settings: Settings, *, concurrency_limit: int = 4) -> gr.Blocks:
    """Build the chat page; answers come from `chain`, its options from the settings accordion."""
    modes = _mode_choices(chain, settings)
    panel = _CorpusPanel(chain, settings)
    chains: dict[tuple[str, int, str], RagChain] = {}  # per choice of options, sharing index and prompts

    def runner(mode: str, top_k: float, retrieval: str) -> RagChain:
        if mode not in {value for _, value in modes}:
            raise gr.Error(f"unknown answer mode {_md(str(mode))!r}", print_exception=False)
        if retrieval not in RETRIEVAL_MODES:
            raise gr.Error(f"unknown search mode {_md(str(retrieval))!r}", print_exception=False)
        key = (mode, max(1, min(int(top_k), 50)), retrieval)
        if key not in chains:
            chains[key] = chain.with_options(
                mode=cast(LLMMode, mode), top_k=key[1], retrieval_mode=cast(RetrievalMode, retrieval)
            )
        return chains[key]

    def respond(
        message: str, history: list[Any], mode: str, top_k: float, retrieval: str
    ) -> Iterator[tuple[str, Any, Any]]:
        try:
            run = runner(mode, top_k, retrieval)
            text = ""
            chat = to_chat_input({"question": message, "history": history}, settings.max_question_chars)
            for event in run.stream(chat):
                if isinstance(event, Answer):
                    yield message_markdown(event), sources_html(event), event.model_dump(mode="json")
                    return
                text += event
                yield _md(text), PENDING_SOURCES, gr.skip()
        except RagError as e:
            raise gr.Error(_md(str(e)), title="Cannot answer", print_exception=False) from None
        except gr.Error:
            raise
        except Exception:
            log.exception("answering %r failed", message)
            raise gr.Error(
                "answering failed; the server log has the details", print_exception=False
            ) from None

    with gr.Blocks(title="rag: ask your documents", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Ask your documents\nEvery sentence of an answer cites its passage as `[n]`; "
            "the panel on the right shows each quote highlighted where it stands in the document."
        )
        sources = gr.HTML(
            EMPTY_SOURCES,
            label="Sources",
            css_template=CSS,
            js_on_load=None,
            elem_id="rag-sources",
            render=False,
        )
        answer_json = gr.JSON(label="Answer as JSON", render=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=520,
                    latex_delimiters=[],  # "$5 million and $10" is money, not math
                    buttons=["copy"],
                    elem_id="rag-chat",
                )
                mode = gr.Radio(
                    modes,
                    value=chain.mode,
                    label="Answer mode",
                    info=None if len(modes) > 1 else "openai needs OPENAI_API_KEY or RAG_OPENAI_BASE_URL",
                    render=False,
                )
                top_k = gr.Slider(
                    1, 20, value=chain.top_k, step=1, label="Passages retrieved (top-k)", render=False
                )
                retrieval = gr.Radio(
                    list(RETRIEVAL_MODES),
                    value=chain.retrieval_mode,
                    label="Retrieval mode",
                    render=False,
                )
                chat = gr.ChatInterface(
                    respond,
                    chatbot=chatbot,
                    additional_inputs=[mode, top_k, retrieval],
                    additional_inputs_accordion=gr.Accordion("Settings", open=False, render=False),
                    additional_outputs=[sources, answer_json],
                    examples=[[q, None, None, None] for q in EXAMPLES],
                    api_name="chat",
                    api_description="Answer a question from the documents; the session keeps the history.",
                    concurrency_limit=concurrency_limit,
                    fill_height=False,
                    autofocus=True,
                )
                clear = gr.Button("Clear chat", variant="secondary", size="md", elem_id="rag-clear")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources.render()
                with gr.Accordion("Corpus", open=False):
                    corpus = gr.HTML("<p>Reading the index…</p>", js_on_load=None, elem_id="rag-corpus")
                    refresh = gr.Button("Refresh", size="sm")
                with gr.Accordion("Answer as JSON", open=False):
                    answer_json.render()
        clear.click(
            lambda: ([], [], EMPTY_SOURCES, None),
            None,
            [chatbot, chat.chatbot_state, sources, answer_json],
            api_visibility="undocumented",
            queue=False,
        )
        chatbot.clear(
            lambda: (EMPTY_SOURCES, None),
            None,
            [sources, answer_json],
            api_visibility="undocumented",
            queue=False,
        )
        refresh.click(panel.html, None, corpus, api_visibility="undocumented")
        demo.load(panel.html, None, corpus, api_visibility="undocumented")
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=256)
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
) -> str:
    """Start serving the page on host:port (loopback by default) in the background; return its URL.

    Call `demo.block_thread()` to serve until Ctrl-C, or `demo.close()` to stop.
    """
    try:
        _, url, _ = demo.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            prevent_thread_lock=True,
            share=False,
            inbrowser=False,
            quiet=True,
            show_error=False,
            ssr_mode=False,
            mcp_server=False,
            pwa=False,
            enable_monitoring=False,
        )
    except OSError as e:
        raise ConfigError(f"cannot serve on {host}:{port}: {e}") from None
    return str(url or f"http://{host}:{port}/")
