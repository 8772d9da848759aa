"""The page's event handlers: closures over the chain, the conversation store and the indexer.

`make_handlers` builds them once per page; `rag.app.page` lays out the components and wires them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.app import chat as talk
from rag.app.conversations import ConversationStore
from rag.app.indexer import Indexer
from rag.app.library import Library
from rag.app.render import EMPTY_SOURCES, error_markdown, example_questions, inert, progress_html
from rag.app.scope import Chains
from rag.app.viewer import open_document
from rag.app.widgets import mode_choices, search_choices
from rag.chain import RagChain
from rag.errors import RagError
from rag.settings import Settings


def _owner(request: gr.Request | None) -> str:
    return (request.username if request is not None else None) or "local"


@dataclass(frozen=True)
class Handlers:
    """Every event handler of the page, and what `/chat` shares with them."""

    modes: list[tuple[str, str]]
    chains: Chains
    note: Callable[..., Any]
    options: Callable[..., Any]
    conversations: Callable[..., Any]
    ask: Callable[..., Any]
    select: Callable[..., Any]
    like: Callable[..., Any]
    undo: Callable[..., Any]
    new_chat: Callable[..., Any]
    open_chat: Callable[..., Any]
    rename: Callable[..., Any]
    delete: Callable[..., Any]
    export: Callable[..., Any]
    documents: Callable[..., Any]
    upload: Callable[..., Any]
    remove: Callable[..., Any]
    listed: Callable[..., Any]
    reindex: Callable[..., Any]
    examples: Callable[..., Any]
    viewer_choices: Callable[..., Any]
    view: Callable[..., Any]


def make_handlers(chain: RagChain, settings: Settings, indexer: Indexer, *, per_user: bool) -> Handlers:
    """Build the page's handlers; `per_user` keeps each user's uploads to themselves."""
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
        rows, summary, removable = library.rows(owner, query, corpus_removable=not per_user)
        p = indexer.progress()
        busy = p.running or indexer.busy()
        progress = ""
        if p.running:
            try:
                passages = chain.retriever.store.count()
            except RagError:
                passages = 0
            mine = [f for f in indexer.files(owner) if f.state == "indexing" and f.chunks]
            current, share = p.current, ""
            if mine:  # an upload of theirs is being embedded: say how far, as its row does
                current, share = Path(mine[0].source).name, f"{mine[0].status()[len('indexing ') :]}"
            progress = progress_html(p.done, p.total, passages, True, current, share)
        if p.error:
            progress += f'<p class="rag-warn">{inert(p.error)}</p>'
        return rows, summary, progress, gr.Timer(active=busy), gr.Dropdown(choices=removable)

    def upload(files: list[str] | None, query: str, request: gr.Request) -> tuple[Any, ...]:
        if files:
            indexer.add(_owner(request), [Path(f) for f in files])
        return (None, *documents(query, request)[:4])

    def remove(choice: str | None, query: str, request: gr.Request) -> tuple[Any, ...]:
        owner = _owner(request)
        kind, _, name = (choice or "").partition(":")
        message = "Pick a document to remove."
        try:
            if kind == "upload":
                indexer.remove(owner, name)
                message = f"Removing {Path(name).name}…"
            elif kind == "corpus" and not per_user:
                indexer.remove_document(name)
                message = f"Removing {name} (a plain `rag ingest` won't bring it back)…"
        except RagError as e:
            message = str(e)
        return (message, gr.Row(visible=False), *documents(query, request)[:4])

    def reindex(query: str, request: gr.Request) -> tuple[Any, ...]:
        indexer.sync_corpus()
        return documents(query, request)[:4]

    def listed(request: gr.Request) -> Any:
        return conversations(_owner(request), None)

    def examples(request: gr.Request) -> Any:
        questions = example_questions(library.titles(_owner(request)))
        return gr.Dataset(samples=[[q] for q in questions], visible=bool(questions))

    def viewer_choices(session: talk.Session) -> Any:
        index = session.selected if session.selected is not None else session.latest()
        answer = session.answers.get(index) if index is not None else None
        cited = answer.citations if answer is not None else []
        choices = [(f"[{c.n}] {c.title}", str(c.n)) for c in cited]
        return gr.Dropdown(choices=choices, value=None, visible=bool(choices))

    def view(n: str | None, session: talk.Session, request: gr.Request) -> tuple[Any, Any]:
        index = session.selected if session.selected is not None else session.latest()
        answer = session.answers.get(index) if index is not None else None
        citation = next((c for c in answer.citations if str(c.n) == n), None) if answer else None
        if citation is None:
            return "", gr.File(value=None, visible=False)
        if per_user and citation.source in indexer.hidden_from(_owner(request)):
            return '<p class="rag-warn">This document is not yours to open.</p>', gr.File(visible=False)
        shown, copy = open_document(settings, citation)
        return shown, gr.File(value=str(copy) if copy else None, visible=copy is not None)

    return Handlers(
        modes=modes,
        chains=chains,
        note=note,
        options=options,
        conversations=conversations,
        ask=ask,
        select=select,
        like=like,
        undo=undo,
        new_chat=new_chat,
        open_chat=open_chat,
        rename=rename,
        delete=delete,
        export=export,
        documents=documents,
        upload=upload,
        remove=remove,
        listed=listed,
        reindex=reindex,
        examples=examples,
        viewer_choices=viewer_choices,
        view=view,
    )
