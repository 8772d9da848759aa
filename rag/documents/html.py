"""HTML (and e-book chapters) to text: the main text, without scripts, navigation or page furniture.

lxml's HTML parser calls a target object back for each tag and text run, so no tree is built:
memory stays near the size of the text, however deep the nesting (bs4's tree took ~90× a file's size).
"""

from __future__ import annotations

import io
import re

SKIP = frozenset(
    "script style noscript template svg nav header footer aside form iframe head title button select".split()
)
# Elements that start a new line of text; inline ones (a, em, span, ...) stay inside their sentence.
BLOCKS = frozenset(
    "address article blockquote br caption dd details div dl dt figcaption figure h1 h2 h3 h4 h5 h6 hr "
    "li main ol p pre section summary table td th tr ul body".split()
)
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_SPACE = re.compile(r"\s+")
_LINE_SPACE = re.compile(r"[ \t\r\f\v]+")


class _Target:
    """Collect text per region (main, article, body) and the headings, as the parser walks the page."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.skip = 0
        self.pre = 0
        self.title: list[str] = []
        self.in_title = False
        self.heading: list[str] | None = None
        self.headings: list[str] = []
        # StringIO packs the many small text runs into one buffer (a list of str objects cost ~3x).
        self.regions: dict[str, io.StringIO] = {
            "main": io.StringIO(),
            "article": io.StringIO(),
            "body": io.StringIO(),
        }
        self.open: dict[str, int] = {}  # region -> depth of its element, while inside it
        self.done: set[str] = set()  # regions seen whole (only the first <main>/<article> counts)

    def _emit(self, text: str) -> None:
        self.regions["body"].write(text)
        for region in self.open:
            self.regions[region].write(text)

    def start(self, tag: object, attrib: object) -> None:
        name = tag.lower() if isinstance(tag, str) else ""
        self.stack.append(name)
        if name == "title":
            self.in_title = True
        if name in SKIP or self.skip:
            self.skip += 1
            return
        if name == "pre":
            self.pre += 1
        if name in ("main", "article") and name not in self.done and name not in self.open:
            self.open[name] = len(self.stack)
        if name in HEADINGS and self.heading is None:
            self.heading = []
        if name in BLOCKS:
            self._emit("\n")

    def end(self, tag: object) -> None:
        if not self.stack:
            return
        name = self.stack.pop()
        if name == "title":
            self.in_title = False
        if self.skip:
            self.skip -= 1
            return
        if name == "pre":
            self.pre -= 1
        if name in HEADINGS and self.heading is not None:
            self.headings.append(" ".join("".join(self.heading).split()))
            self.heading = None
        if name in BLOCKS:
            self._emit("\n")
        for region, depth in list(self.open.items()):
            if depth > len(self.stack):
                del self.open[region]
                self.done.add(region)

    def data(self, text: str) -> None:
        if self.in_title:
            self.title.append(text)
        elif not self.skip:
            if self.heading is not None:
                self.heading.append(text)
            self._emit(text if self.pre else _SPACE.sub(" ", text))

    def comment(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _paragraphs(raw: str) -> list[str]:
    lines = (_LINE_SPACE.sub(" ", line).strip() for line in raw.splitlines())
    return [line for line in lines if line]


def html_blocks(text: str) -> tuple[list[str], str, list[str]]:
    """Return a page's main text as paragraphs, its <title> and its headings' texts."""
    from lxml import etree

    target = _Target()
    parser = etree.HTMLParser(target=target, huge_tree=True, remove_comments=True, no_network=True)
    step = 1 << 20
    for at in range(0, len(text), step):  # fed in pieces: libxml2 copies what it is given
        parser.feed(text[at : at + step])
    if text:
        parser.close()
    regions = target.regions
    for name in ("main", "article", "body"):
        paragraphs = _paragraphs(regions[name].getvalue())
        if paragraphs:
            break
    return paragraphs, " ".join("".join(target.title).split()), target.headings
