"""The chat page: conversations in a sidebar, the chat, and each answer's own sources beside it.

Thin on purpose: answering is `RagChain.stream` (through `rag.app.chat`), saving is
`ConversationStore`, indexing is `Indexer`; this module lays out Gradio components and wires events.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from rag.offline import apply_offline_env

apply_offline_env()  # before gradio is imported: no analytics, no version check

import gradio as gr  # noqa: E402

from rag.app import chat as talk  # noqa: E402
from rag.app.conversations import ConversationStore  # noqa: E402
from rag.app.indexer import Indexer  # noqa: E402
from rag.app.library import COLUMNS, Library  # noqa: E402
from rag.app.render import EMPTY_SOURCES, error_markdown, example_questions, inert, progress_html  # noqa: E402
from rag.app.scope import Chains  # noqa: E402
from rag.app.style import CLOSE_SIDEBAR_ON_PHONE, CSS, HEAD  # noqa: E402
from rag.app.widgets import api_chat, mode_choices, search_choices  # noqa: E402
from rag.chain import RagChain  # noqa: E402
from rag.documents import SUPPORTED  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.settings import Settings  # noqa: E402

log = logging.getLogger(__name__)
SESSION_TTL_S = 3600  # a tab's state is dropped an hour after its last change (bounded memory)


def _owner(request: gr.Request | None) -> str:
    return (request.username if request is not None else None) or "local"


def build_app(
    chain: RagChain,
    settings: Settings,
    *,
    concurrency_limit: int = 4,
    per_user: bool = False,
    index_on_start: bool = False,
    indexer: Indexer | None = None,
) -> gr.Blocks:
    """Build the page; `per_user` (with --auth) keeps each user's uploads to themselves."""
    indexer = indexer or Indexer(settings, chain.embeddings)
    if index_on_start:
        indexer.sync_corpus()
    store = ConversationStore(settings.data_dir / "app.sqlite3")
    library = Library(chain.retriever.store, indexer)
    chains = Chains(chain, indexer.hidden_from if per_user else None)
    modes = mode_choices(chain, settings)

    def note() -> str:
        p = indexer.progress()
        return (
            f"Indexing is still running ({p.done:,} of {p.total:,} files): "
            "answered from what is indexed so far."
            if p.running
            else ""
        )

    def options(mode: str, top_k: float, retrieval: str) -> tuple[str, int, str]:
        if mode not in {v for _, v in modes}:
            raise RagError(f"unknown answer mode {mode!r}")
        if retrieval not in {v for _, v in search_choices()}:
            raise RagError(f"unknown search mode {retrieval!r}")
        return mode, max(1, min(int(top_k), 50)), retrieval

    def conversations(owner: str, cid: str | None) -> Any:
        choices = [(c.title, c.id) for c in store.conversations(owner)]
        return gr.Radio(choices=choices, value=cid if cid in {c for _, c in choices} else None)

    def ask(
        question: str, session: talk.Session, mode: str, top_k: float, retrieval: str, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        owner = _owner(request)
        try:
            opts = options(mode, top_k, retrieval)
        except RagError as e:
            session.messages.append({"role": "assistant", "content": error_markdown(str(e))})
            yield session.messages, question, session.sources(), None, session, gr.skip()
            return
        for step in talk.ask(
            session,
            question,
            owner=owner,
            chains=chains,
            store=store,
            options=opts,
            note=note(),
            limit=settings.max_question_chars,
        ):
            listing = conversations(owner, step.session.cid) if step.saved else gr.skip()
            data = step.answer.model_dump(mode="json") if step.answer else gr.skip()
            yield step.session.messages, step.keep_question, step.sources, data, step.session, listing

    def select(session: talk.Session, evt: gr.SelectData) -> tuple[str, talk.Session]:
        index = evt.index if isinstance(evt.index, int) else None
        if index is not None and index in session.answers:
            session.selected = index
        return session.sources(), session

    def like(session: talk.Session, evt: gr.LikeData, request: gr.Request) -> None:
        index = evt.index if isinstance(evt.index, int) else None
        if index is not None and index in session.ids:
            value = 1 if evt.liked is True else -1 if evt.liked is False else None
            store.rate(_owner(request), session.ids[index], value)

    def undo(session: talk.Session, request: gr.Request) -> tuple[Any, ...]:
        session, question = talk.undo(session, _owner(request), store)
        return session.messages, question, session.sources(), session

    def new_chat() -> tuple[Any, ...]:
        session = talk.Session()
        return session.messages, "", EMPTY_SOURCES, None, session, gr.Radio(value=None)

    def open_chat(cid: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = _owner(request)
        if not cid or not store.owns(owner, cid):
            return new_chat()
        session = talk.restore(store.messages(owner, cid), cid)
        return session.messages, "", session.sources(), None, session, gr.skip()

    def rename(cid: str | None, title: str, request: gr.Request) -> Any:
        owner = _owner(request)
        if cid and title.strip():
            store.rename(owner, cid, title)
        return conversations(owner, cid)

    def delete(cid: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = _owner(request)
        if cid:
            store.delete(owner, cid)
        return (*new_chat()[:5], conversations(owner, None))

    def export(cid: str | None, request: gr.Request) -> Any:
        owner = _owner(request)
        if not cid or not store.owns(owner, cid):
            return gr.File(value=None, visible=False)
        folder = Path(tempfile.mkdtemp(prefix="rag-export-"))
        path = folder / "conversation.md"
        path.write_text(store.markdown(owner, cid), encoding="utf-8")
        return gr.File(value=str(path), visible=True)

    def documents(query: str, request: gr.Request) -> tuple[Any, ...]:
        owner = _owner(request)
        rows, summary = library.rows(owner, query)
        p = indexer.progress()
        busy = p.running or any(f.state in ("queued", "indexing") for f in indexer.files(owner))
        progress = ""
        if p.running:
            try:
                passages = chain.retriever.store.count()
            except RagError:
                passages = 0
            progress = progress_html(p.done, p.total, passages, True, p.current)
        if p.error:
            progress += f'<p class="rag-warn">{inert(p.error)}</p>'
        mine = [r[0] for r in rows if r[4] == "your upload"]
        return rows, summary, progress, gr.Timer(active=busy), gr.Dropdown(choices=mine)

    def upload(files: list[str] | None, query: str, request: gr.Request) -> tuple[Any, ...]:
        if files:
            indexer.add(_owner(request), [Path(f) for f in files])
        return (None, *documents(query, request)[:4])

    def remove(name: str | None, query: str, request: gr.Request) -> tuple[Any, ...]:
        owner = _owner(request)
        source = next((f.source for f in indexer.files(owner) if Path(f.source).name == name), None)
        message = ""
        if source is None:
            message = "Pick one of your uploads to remove."
        else:
            try:
                indexer.remove(owner, source)
                message = f"Removing {name}…"
            except RagError as e:
                message = str(e)
        return (message, gr.Row(visible=False), *documents(query, request)[:4])

    def listed(request: gr.Request) -> Any:
        return conversations(_owner(request), None)

    def examples(request: gr.Request) -> Any:
        questions = example_questions(library.titles(_owner(request)))
        return gr.Dataset(samples=[[q] for q in questions], visible=bool(questions))

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
                suggestions = gr.Dataset(components=[box], samples=[], label="Try asking", visible=False)
            with gr.Column(scale=2, min_width=300), gr.Tabs():
                with gr.Tab("Sources", id="sources"):
                    sources = gr.HTML(EMPTY_SOURCES, elem_id="rag-sources", padding=False)
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
                        headers=COLUMNS, interactive=False, wrap=True, elem_id="rag-doc-table"
                    )
                    with gr.Row():
                        pick = gr.Dropdown([], label="Your upload", scale=3, allow_custom_value=False)
                        ask_remove = gr.Button("Remove…", size="sm", variant="stop", scale=1)
                    with gr.Row(visible=False) as confirm_row:
                        gr.Markdown("Remove this document and its passages? Answers will no longer cite it.")
                        yes = gr.Button("Yes, remove", size="sm", variant="stop", elem_id="rag-confirm")
                        no = gr.Button("Cancel", size="sm")
                    removed = gr.Markdown("")
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
            ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        suggestions.click(lambda s: s[0], suggestions, box, api_visibility="private", queue=False).then(
            ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        chatbot.select(select, session, [sources, session], api_visibility="private", queue=False)
        chatbot.like(like, session, None, api_visibility="private", queue=False)
        chatbot.undo(undo, session, [chatbot, box, sources, session], api_visibility="private", queue=False)
        chatbot.retry(
            undo, session, [chatbot, box, sources, session], api_visibility="private", queue=False
        ).then(
            ask,
            [box, session, mode, top_k, retrieval],
            chat_out,
            api_visibility="private",
            concurrency_limit=concurrency_limit,
            concurrency_id="answer",
        )
        chatbot.clear(new_chat, None, chat_out, api_visibility="private", queue=False)
        new.click(new_chat, None, chat_out, api_visibility="private", queue=False)
        listing.input(open_chat, listing, chat_out, api_visibility="private")
        rename_btn.click(rename, [listing, title], listing, api_visibility="private")
        delete_btn.click(delete, listing, chat_out, api_visibility="private")
        export_btn.click(export, listing, exported, api_visibility="private")
        docs_out = [table, summary, progress, timer, pick]
        upload_out = [files, table, summary, progress, timer]
        files.upload(upload, [files, search], upload_out, api_visibility="private")
        search.change(documents, search, docs_out, api_visibility="private", queue=False)
        timer.tick(documents, search, docs_out, api_visibility="private", queue=False)
        ask_remove.click(
            lambda: gr.Row(visible=True), None, confirm_row, api_visibility="private", queue=False
        )
        no.click(lambda: gr.Row(visible=False), None, confirm_row, api_visibility="private", queue=False)
        yes.click(
            remove,
            [pick, search],
            [removed, confirm_row, table, summary, progress, timer],
            api_visibility="private",
        )
        demo.load(documents, search, docs_out, api_visibility="private")
        demo.load(examples, None, suggestions, api_visibility="private")
        demo.load(listed, None, listing, api_visibility="private")
        demo.load(None, None, None, js=CLOSE_SIDEBAR_ON_PHONE, api_visibility="private")
        api_chat(demo, chains, [mode, top_k, retrieval], options, note, settings, concurrency_limit)
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
            state_session_capacity=2000,
        )
    except OSError as e:
        raise ConfigError(f"cannot serve on {host}:{port}: {e}") from None
    return str(url or f"http://{host}:{port}/")
