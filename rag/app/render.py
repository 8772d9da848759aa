"""Pure rendering for the chat page: answers as inert Markdown, sources as escaped HTML.

Document text is untrusted. In the chat's Markdown every ASCII punctuation character of it is
backslash-escaped, so a document's `![x](http://…)` is text (never an image the browser fetches), its
`http://` never becomes a link and its literal `[2]` is not a marker: only the answerer's markers are
set in bold. In the Sources panel it is html-escaped; the only markup is ours.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Sequence

from rag.schema import Answer, Citation, Passage

_PUNCT = re.compile("([" + re.escape(string.punctuation) + "])")
_MARKER = re.compile(r"\[(\d{1,3})\]")
EMPTY_SOURCES = (
    '<p class="rag-note">Ask a question: the passages its answer cites appear here, '
    "with the quoted words highlighted. Select an answer (or one of its [n]) to see its own sources.</p>"
)
PENDING_SOURCES = '<p class="rag-note">Finding the passages…</p>'


def esc(text: str) -> str:
    """Escape text for HTML (attributes included)."""
    return html.escape(text, quote=True)


def inert(text: str) -> str:
    """Return text that Markdown shows as typed: every ASCII punctuation mark backslash-escaped."""
    return _PUNCT.sub(r"\\\1", text)


def _marked(text: str, quotes: Sequence[str], numbers: set[int]) -> str:
    """Escape a sentence, setting in bold only the markers that lie outside the quoted document text."""
    protected: list[tuple[int, int]] = []
    for quote in quotes:
        at = text.find(quote) if quote else -1
        while at >= 0:
            protected.append((at, at + len(quote)))
            at = text.find(quote, at + len(quote))
    out, last = [], 0
    for m in _MARKER.finditer(text):
        inside = any(a <= m.start() < b for a, b in protected)
        if inside or int(m.group(1)) not in numbers:
            continue
        out += [inert(text[last : m.start()]), f"**\\[{m.group(1)}\\]**"]
        last = m.end()
    out.append(inert(text[last:]))
    return "".join(out)


def message_markdown(answer: Answer) -> str:
    """Render a final answer for the chat: markers in bold, refusals and unsupported sentences marked."""
    if answer.refused:
        return f"*{inert(answer.text)}*"
    quotes = [c.quote for c in answer.citations]
    numbers = {c.n for c in answer.citations}
    unsupported = set(answer.unsupported)
    sentences = answer.sentences or [answer.text]
    return " ".join(
        _marked(s, quotes, numbers) + (" **(unsupported)**" if i in unsupported else "")
        for i, s in enumerate(sentences)
    )


def error_markdown(message: str) -> str:
    """Render a failed question's one-line error inside the conversation."""
    return f"**Could not answer:** {inert(message)}"


def highlight(answer: Answer, citation: Citation) -> str:
    """Return the passage a citation quotes, escaped, with the quote inside `<mark>`."""
    passage = answer.passage_of(citation)
    if passage is None:  # no context to show: the quote alone
        return f"<mark>{esc(citation.quote)}</mark>"
    return _highlight_many(passage, [citation])


def _highlight_many(passage: Passage, citations: Sequence[Citation]) -> str:
    """Escape a passage, wrapping each citation's quote in `<mark>` (overlaps merged)."""
    text = passage.text
    spans: list[tuple[int, int]] = []
    for c in sorted(citations, key=lambda c: c.start):
        a, b = c.start - passage.start, c.end - passage.start
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    out, last = [], 0
    for a, b in spans:
        out += [esc(text[last:a]), f"<mark>{esc(text[a:b])}</mark>"]
        last = b
    out.append(esc(text[last:]))
    return "".join(out)


def _card(answer: Answer, group: list[Citation], passage: Passage | None) -> str:
    first = group[0]
    numbers = " ".join(str(c.n) for c in group)
    labels = " ".join(f'<span class="rag-n">[{c.n}]</span>' for c in group)
    page = f" · {esc(first.page_label or f'page {first.page}')}" if first.page is not None else ""
    body = (
        _highlight_many(passage, group)
        if passage
        else "".join(f"<mark>{esc(c.quote)}</mark> " for c in group)
    )
    return (
        f'<div class="rag-source" id="rag-source-{first.n}" data-n="{numbers}">'
        f'<div class="rag-head">{labels} <b>{esc(first.title)}</b><br>'
        f"<code>{esc(first.source)}</code>{page} · characters {first.start}–{group[-1].end}</div>"
        f'<blockquote class="rag-chunk">{body}</blockquote></div>'
    )


def sources_html(answer: Answer, note: str = "") -> str:
    """Render one answer's sources: one card per passage, each quote highlighted in place."""
    who = "quotes from the documents" if answer.mode == "extractive" else "a language model"
    took = f"{answer.timings.get('total_ms', 0):.0f}&nbsp;ms"  # never "800" and "ms" on two lines
    meta = (
        f'<p class="rag-meta">Answered with <b>{who}</b> · {took}<br>'
        f'<span class="rag-searched">Searched: “{esc(answer.retrieval_query or answer.question)}”'
        f"{' (with the previous question)' if answer.history_used else ''}</span></p>"
    )
    parts = [meta, f'<p class="rag-warn">{esc(note)}</p>' if note else ""]
    if answer.refused:
        parts.append(
            '<div class="rag-refusal"><b>No answer in the documents.</b> No passage supports one '
            "well enough, so nothing is cited.</div>"
        )
        return "".join(parts)
    if answer.unsupported and answer.sentences:
        items = "".join(
            f"<li>{esc(answer.sentences[i])}</li>" for i in answer.unsupported if i < len(answer.sentences)
        )
        parts.append(
            '<div class="rag-unsupported"><b>Not supported by the cited passages</b> '
            f"(marked “unsupported” in the answer):<ul>{items}</ul></div>"
        )
    if not answer.citations:
        parts.append('<p class="rag-note">This answer cites no passage.</p>')
    groups: dict[tuple[str, int], tuple[Passage | None, list[Citation]]] = {}
    for c in answer.citations:
        passage = answer.passage_of(c)
        key = (c.source, passage.start if passage else -c.n)
        groups.setdefault(key, (passage, []))[1].append(c)
    parts += [_card(answer, cs, p) for p, cs in groups.values()]
    return "".join(parts)


def progress_html(
    done: int, total: int, chunks: int, running: bool, current: str = "", current_share: str = ""
) -> str:
    """Describe the background index: files done of total, chunks so far, the file being indexed."""
    if not running:
        return f'<p class="rag-note">Index ready: {chunks:,} passages.</p>'
    share = f" ({100 * done // total}%)" if total and not current_share else ""  # one share shown, not two
    doing = f" · now: <code>{esc(current)}</code>" if current else ""
    doing += f" {esc(current_share)}" if current and current_share else ""
    return (
        f'<p class="rag-warn" role="status"><b>Indexing:</b> {done:,} of {total:,} files{share}, '
        f"{chunks:,} passages so far{doing}. Answers use what is indexed so far.</p>"
    )


def example_questions(titles: Sequence[str], limit: int = 3) -> list[str]:
    """Suggest questions about the indexed documents, from their titles."""
    out: list[str] = []
    for title in titles:
        t = " ".join(title.split()).strip(" .:")
        if not 8 <= len(t) <= 80:
            continue
        question = t if t.endswith("?") else f"What is “{t}” about?"
        if question.lower() not in {q.lower() for q in out}:
            out.append(question)
        if len(out) == limit:
            break
    return out
