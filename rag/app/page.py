"""The chat page: conversations in a sidebar, the chat, and each answer's own sources beside it.

Thin on purpose: answering is `RagChain.stream` (through `rag.app.chat`), saving is
`ConversationStore`, indexing is `Indexer`; this module lays out Gradio components and wires events.
"""

from __future__ import annotations

import logging
from typing import cast

from rag.offline import apply_offline_env

apply_offline_env()  # before gradio is imported: no analytics, no version check

import gradio as gr  # noqa: E402

from rag.app import chat as talk  # noqa: E402
from rag.app.events import make_handlers  # noqa: E402
from rag.app.indexer import Indexer  # noqa: E402
from rag.app.library import COLUMN_WIDTHS, COLUMNS  # noqa: E402
from rag.app.render import EMPTY_SOURCES  # noqa: E402
from rag.app.style import CLOSE_SIDEBAR_ON_PHONE, CSS, HEAD, SCROLL_TO_MARK  # noqa: E402
from rag.app.widgets import api_chat, search_choices  # noqa: E402
from rag.chain import RagChain  # noqa: E402
from rag.documents import SUPPORTED  # noqa: E402
from rag.settings import Settings  # noqa: E402

log = logging.getLogger(__name__)
SESSION_TTL_S = 3600  # a tab's state is dropped an hour after its last change (bounded memory)


def build_app(
    chain: RagChain,
    settings: Settings,
    *,
    # Answers in flight. Chat-model calls are capped apart (RAG_LLM_CONCURRENCY, owned by the chain),
    # so LLM questions waiting for a slot must not fill these workers: keep room for extractive ones.
    concurrency_limit: int = 16,
    per_user: bool = False,
    index_on_start: bool = False,
    indexer: Indexer | None = None,
) -> gr.Blocks:
    """Build the page; `per_user` (with --auth) keeps each user's uploads to themselves."""
    indexer = indexer or Indexer(settings, chain.embeddings)
    if index_on_start:
        indexer.sync_corpus()
    h = make_handlers(chain, settings, indexer, per_user=per_user)
    modes = h.modes

    with gr.Blocks(
        title="rag: ask your documents", analytics_enabled=False, delete_cache=(600, 3600)
    ) as demo:
        session = gr.State(talk.Session(), time_to_live=SESSION_TTL_S)
        with gr.Sidebar(label="Conversations", open=True, elem_id="rag-sidebar"):
            new = gr.Button("New chat", variant="primary", elem_id="rag-new")
            listing = gr.Radio([], label="Conversations", elem_id="rag-conversations")
            with gr.Accordion("Rename, delete or export", open=False):
                title = gr.Textbox(label="New title", max_lines=1)
                with gr.Row():
                    rename_btn = gr.Button("Rename", size="sm")
                    delete_btn = gr.Button("Delete", size="sm", variant="stop")
                    export_btn = gr.Button("Export", size="sm")
                exported = gr.File(label="Markdown", visible=False)
        gr.Markdown("## Ask your documents", elem_id="rag-title")
        progress = gr.HTML("", elem_id="rag-progress")
        with gr.Row(equal_height=False, elem_id="rag-main"):
            with gr.Column(scale=3, min_width=300):
                chatbot = gr.Chatbot(
                    label="Chat",
                    height=480,
                    latex_delimiters=[],
                    buttons=["copy"],
                    elem_id="rag-chat",
                    placeholder="Ask about your documents: every answer cites the passages it comes from.",
                )
                with gr.Row(elem_id="rag-ask"):
                    box = gr.Textbox(
                        placeholder="Ask a question…",
                        show_label=False,
                        scale=5,
                        max_lines=6,
                        autofocus=True,
                        elem_id="rag-input",
                        submit_btn=True,
                    )
                suggestions = gr.Dataset(
                    components=[box], samples=[], label="Try asking", visible=False, elem_id="rag-examples"
                )
            with gr.Column(scale=2, min_width=300), gr.Tabs():
                with gr.Tab("Sources", id="sources"):
                    sources = gr.HTML(EMPTY_SOURCES, elem_id="rag-sources", padding=False)
                    cited = gr.Dropdown(
                        [], label="Open a cited document", visible=False, elem_id="rag-open", interactive=True
                    )
                    document = gr.HTML("", elem_id="rag-viewer", padding=False)
                    original = gr.File(label="Original file", visible=False, elem_id="rag-original")
                with gr.Tab("Documents", id="documents", elem_id="rag-documents"):
                    files = gr.File(
                        label=f"Add documents: {' '.join(SUPPORTED)}, up to {settings.max_file_mb:g} MB each",
                        file_count="multiple",
                        file_types=list(SUPPORTED),
                        elem_id="rag-upload",
                        height=120,
                    )
                    search = gr.Textbox(placeholder="Search by name…", show_label=False, max_lines=1)
                    summary = gr.Markdown("")
                    table = gr.Dataframe(
                        headers=COLUMNS,
                        column_widths=COLUMN_WIDTHS,
                        interactive=False,
                        wrap=True,
                        elem_id="rag-doc-table",
                    )
                    with gr.Row():
                        pick = gr.Dropdown([], label="Document", scale=3, allow_custom_value=False)
                        ask_remove = gr.Button("Remove…", size="sm", variant="stop", scale=1)
                    with gr.Row(visible=False) as confirm_row:
                        gr.Markdown("Remove this document and its passages? Answers will no longer cite it.")
                        yes = gr.Button("Yes, remove", size="sm", variant="stop", elem_id="rag-confirm")
                        no = gr.Button("Cancel", size="sm")
                    removed = gr.Markdown("")
                    reindex = gr.Button("Re-index changed files", size="sm")
                with gr.Tab("Settings", id="settings"):
                    mode = gr.Radio(modes, value=chain.mode, label="Answer with")
                    retrieval = gr.Radio(
                        search_choices(),
                        value=chain.retrieval_mode,
                        label="Search",
                        info="By meaning finds passages that say it in other words; "
                        "by words finds the exact terms.",
                    )
                    with gr.Accordion("Advanced", open=False):
                        top_k = gr.Slider(
                            1, 20, value=chain.top_k, step=1, label="Passages read per question (k)"
                        )
                        answer_json = gr.JSON(label="The last answer as JSON")
        timer = gr.Timer(1.0, active=False)

        chat_out = [chatbot, box, sources, answer_json, session, listing]
        box.submit(
            h.ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        suggestions.click(lambda s: s[0], suggestions, box, api_visibility="private", queue=False).then(
            h.ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        chatbot.select(h.select, session, [sources, session], api_visibility="private", queue=False)
        chatbot.like(h.like, session, None, api_visibility="private", queue=False)
        chatbot.undo(h.undo, session, [chatbot, box, sources, session], api_visibility="private", queue=False)
        chatbot.retry(
            h.undo, session, [chatbot, box, sources, session], api_visibility="private", queue=False
        ).then(
            h.ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        chatbot.clear(h.new_chat, None, chat_out, api_visibility="private", queue=False)
        new.click(h.new_chat, None, chat_out, api_visibility="private", queue=False)
        listing.input(h.open_chat, listing, chat_out, api_visibility="private")
        rename_btn.click(h.rename, [listing, title], listing, api_visibility="private")
        delete_btn.click(h.delete, listing, chat_out, api_visibility="private")
        export_btn.click(h.export, listing, exported, api_visibility="private")
        docs_out = [table, summary, progress, timer, pick]
        upload_out = [files, table, summary, progress, timer]
        files.upload(h.upload, [files, search], upload_out, api_visibility="private")
        search.change(h.documents, search, docs_out, api_visibility="private", queue=False)
        timer.tick(h.documents, search, docs_out, api_visibility="private", queue=False)
        ask_remove.click(
            lambda: gr.Row(visible=True), None, confirm_row, api_visibility="private", queue=False
        )
        no.click(lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private", queue=False)
        yes.click(
            h.remove,
            [pick, search],
            [removed, confirm_row, table, summary, progress, timer],
            api_visibility="private",
        )
        sources.change(h.viewer_choices, session, cited, api_visibility="private", queue=False)
        cited.input(h.view, [cited, session], [document, original], api_visibility="private").then(
            None, None, None, js=SCROLL_TO_MARK, api_visibility="private"
        )
        reindex.click(h.reindex, search, [table, summary, progress, timer], api_visibility="private")
        demo.load(h.documents, search, docs_out, api_visibility="private")
        demo.load(h.examples, None, suggestions, api_visibility="private")
        demo.load(h.listed, None, listing, api_visibility="private")
        demo.load(None, None, None, js=CLOSE_SIDEBAR_ON_PHONE, api_visibility="private")
        api_chat(demo, h.chains, [mode, top_k, retrieval], h.options, h.note, settings, concurrency_limit)
    demo.queue(default_concurrency_limit=concurrency_limit, max_size=256)
    return cast(gr.Blocks, demo)


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | list[tuple[str, str]] | None = None,
    max_file_mb: float = 20.0,
) -> str:
    """Start serving the page on host:port (loopback by default) in the background; return its URL.

    Call `demo.block_thread()` to serve until Ctrl-C, or `demo.close()` to stop.
    """
    from rag.errors import ConfigError

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
            css=CSS,
            head=HEAD,
            max_file_size=f"{int(max_file_mb * 1000)}kb",
            state_session_capacity=1000,  # the oldest tabs beyond it let go (bounded memory)
        )
    except OSError as e:
        raise ConfigError(f"cannot serve on {host}:{port}: {e}") from None
    return str(url or f"http://{host}:{port}/")
