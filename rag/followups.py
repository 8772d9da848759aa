"""Tell whether a question can stand alone, or depends on the turns before it (a follow-up).

A question depends on its history when it opens with an ellipsis ("And the second one?", "What about
Russia?"), has no content words of its own ("Why?", "What did he say?"), or holds a reference the
question itself does not resolve: a pronoun with no name or noun before it (a place's name does not
count: "actions of Pyongyang ... he"), a verb's or a preposition's "it" with only its subject named
("If Washington makes it, ..."), a predicate "it" ("Could Russia be it?"), locative "there",
temporal "then", demonstrative "that"/"this" ("answer that warning"), a group with no names ("the two
leaders"), a view with no one to hold it ("What has Kim abandoned, in his view?"), a reply with its
complement left out ("in response").

Written by hand: coreference libraries (spaCy's coreferee, fastcoref) need model downloads and
hundreds of MB, for a decision a few lexical rules make well on short questions.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_YEAR_OR_DATE = re.compile(r"^(?:1[0-9]{3}|20[0-9]{2})s?$|^\d{1,2}(?:st|nd|rd|th)?$")
# The question's own words that carry no topic: question words, light verbs, ordinals and the like.
_LIGHT = frozenset(
    "what who whom whose which when where why how whether say says said saying tell told do did does "
    "done doing happen happened happens mean means meant think thought know knew want wanted make made "
    "get got go went come came give gave take took else also one ones first second third fourth last "
    "next previous former latter another other same thing things anything something way ok okay really "
    "please yes no right sure exactly much many long often come gone goes going anywhere somewhere "
    # What a bare "On what date?" or "For what reason?" asks for: the kind of answer, not a topic
    # ("What is his title there?" asks for a title, whatever the documents call it; "Where does he
    # work?" for a place of work, "at the Heritage Foundation").
    "date dates year years month day time reason place purpose title titles role job name "
    "work works worked "
    # "Why is that seen as significant?", "Why does that matter?": what is asked is why the earlier
    # turn's matter counts, which a cause beside it tells ("particularly telling given ..."), in any words.
    "significant significance important importance matter matters mattered notable noteworthy telling "
    "relevant relevance seen considered regarded viewed".split()
)
PERSON = frozenset({"he", "she", "him", "his", "her", "hers", "himself", "herself"})
_OBJECT = frozenset({"him", "them"})  # never the subject of its own clause: needs a second name
THING = frozenset({"it", "its", "itself", "they", "them", "their", "theirs", "themselves"})
_BE = frozenset({"is", "are", "was", "were", "be", "been", "isn't", "aren't", "wasn't", "weren't", "'s"})
# "Is it true that ...", "Was it possible to ...": an "it" that stands for nothing.
_EXPLETIVE_NEXT = frozenset(
    "true possible likely unlikely clear known fair right correct reported said expected the a an "
    "hard easy difficult necessary important impossible".split()
)
# Before "that", these make it a pronoun ("about that", "is that", "after that"), not a conjunction.
_THAT_BEFORE = frozenset(
    "is was are were about of after before like with by from for on at in to did does do mean means "
    "since than would will could can should might may must has have had".split()
)
# Verbs that take a clause after "that" ("Did Kim warn that talks with Trump would fail?"): after them
# "that" is a conjunction, even before a noun and a preposition.
_CLAUSE_VERBS = frozenset(
    "say tell think know believe claim argue announce report warn insist deny agree confirm suggest show "
    "mean hope expect fear ensure state note add explain find feel decide realize realise learn hear prove "
    "indicate predict promise admit assert acknowledge declare reveal demand ask doubt imply stress".split()
)
# Before a verb's bare form, these tell it is one ("How did Washington answer that warning?").
_DO_OR_MODAL = frozenset("do does did will would can could should may might must".split())
# Past forms that follow a relative "that" ("Which river did they cross that ran into the sea?"), not nouns.
_IRREGULAR_PAST = frozenset(
    "ran began became grew fell rose led won lost held left brought built kept sent stood lay flew drew "
    "wrote broke spoke sold fought".split()
)
_DETERMINERS = frozenset("the a an this that these those his her its their our my your".split())
_TIME_NOUNS = frozenset("year week month time summer winter spring autumn fall morning day decade".split())
_AUX = frozenset(
    "do does did is are was were has have had will would can could should may might must".split()
)
_DUMMY_VERBS = frozenset("take takes took cost costs mean means seem seems matter matters".split())
_GENERIC_THOSE = frozenset("who whom that which whose responsible involved affected".split())
_TO_PLACE = frozenset("in at to from into near visit visited visiting visits reach reached".split())
_PREPOSITIONS = frozenset("to about of with on against for at from toward towards over into".split())
# After the noun of a demonstrative "that": a preposition, so the noun ends its phrase ("that meeting in").
_NOUN_END = _PREPOSITIONS | frozenset("in by after before during between near under since".split())
# Before a name, these make it a place or an organisation ("actions of Pyongyang", "talks in Hanoi"),
# which cannot be the "he" or "she" of the question: "Which actions of Pyongyang was he talking about?".
_PLACE_BEFORE = frozenset("of in to from at with".split())
# Verbs among the light words: before "it" they make it their object ("If Washington makes it").
_LIGHT_VERBS = frozenset("make makes made get gets got take takes took give gives gave do done want".split())
# A reply or consequence with its complement left out ("What did Trump do in response?"): to what?
_MISSING_COMPLEMENT = re.compile(
    r"\b(in (?:response|return|exchange|reply|turn)|as a (?:result|consequence)|instead|afterwards?)\W*$",
    re.IGNORECASE,
)
# Whose view: a question about Kim "in his view" asks what someone named before thinks of him.
_VIEW = frozenset("view views opinion words assessment estimation judgment judgement mind eyes".split())
_OPENERS = ("and", "but", "also", "so", "or", "then")
_OPENING_PHRASES = ("what about", "how about", "what else", "anything else", "what if", "why not")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS) | _LIGHT


def _words(text: str) -> list[str]:
    return [m.group() for m in _WORD.finditer(text)]


def tokens(text: str) -> list[tuple[str, bool]]:
    """Return (casefolded word, capitalised and not the first word) for each word of `text`."""
    found = _words(text)
    return [(w.casefold().replace("’", "'"), i > 0 and w[:1].isupper()) for i, w in enumerate(found)]


def content_words(text: str) -> list[str]:
    """Return the words of `text` that carry its topic, as written (no stopwords or light verbs)."""
    return [w for w in _words(text) if len(w) > 1 and w.casefold().replace("’", "'") not in stopwords()]


def has_name(text: str) -> bool:
    """Tell whether `text` names someone or something: a capitalised content word after its first."""
    return any(cap and w not in stopwords() for w, cap in tokens(text))


def dependence(question: str) -> str | None:
    """Say why `question` cannot stand alone ("ellipsis", "no content words", "unresolved 'he'"), or None."""
    toks = tokens(question)
    if not toks:
        return "no content words"
    if toks[0][0] in _OPENERS or " ".join(w for w, _ in toks).startswith(_OPENING_PHRASES):
        return "ellipsis"
    if not content_words(question):
        return "no content words"
    missing = _MISSING_COMPLEMENT.search(question)
    if missing:
        return f"unresolved {missing.group(1).casefold()!r}"
    bound = _who_subject(toks)
    for i, (word, _) in enumerate(toks):
        if (word in PERSON or word in THING) and word not in _OBJECT and bound and not _object(toks, i):
            continue  # "Who announced she would step down?": she is who; not in "Who signed it?"
        reason = _unresolved(toks, i, question)
        if reason:
            return reason
    return None


def _who_subject(toks: list[tuple[str, bool]]) -> bool:
    """Tell whether the question's "who" is its subject ("Who announced ...", not "Who did he meet?")."""
    if len(toks) < 2 or toks[0][0] != "who":
        return False
    if toks[1][0] in _BE:
        return len(toks) > 2 and toks[2][0] not in PERSON | THING  # "Who is eligible ...", not "Who is he?"
    return toks[1][0] not in _AUX


def _unresolved(toks: list[tuple[str, bool]], i: int, question: str) -> str | None:
    """Say which reference word at `toks[i]` nothing before it in the question resolves, if it is one."""
    word = toks[i][0]
    stops = stopwords()
    before = toks[:i]
    prev = toks[i - 1][0] if i else ""
    nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
    # What a pronoun can stand for: a name, or a content word after a determiner ("the leader");
    # not any content word ("How old is he?").
    first = next((j for j, (w, _) in enumerate(before) if w in _DETERMINERS), i)
    nouns = [w for w, _ in before[first:] if len(w) > 1 and w not in stops]
    names = {w for w, cap in before if cap and w not in stops}
    if word in _OBJECT:
        return None if len(names) >= 2 else f"unresolved {word!r}"  # "him" is not the clause's subject
    if word in ("his", "her", "their") and prev == "in" and nxt in _VIEW and len(names) < 2:
        return f"unresolved {word!r}"  # "What has Kim abandoned, in his view?": someone else's view
    if word in PERSON:
        # Not a name placed after "of", "in" ...: a place or an organisation ("actions of Pyongyang").
        placed = _placed(before)
        people = [
            w
            for j, (w, cap) in enumerate(before)
            if j not in placed and w not in stops and (cap or j >= first and len(w) > 1)
        ]
        return None if people else f"unresolved {word!r}"
    if word == "it" and _predicate(toks, i):
        return "unresolved 'it'"  # "Could Russia be it?": what Russia would be was said before
    # "How did North Korea react to it?", "If Washington makes it": the object of a preposition or
    # a verb is not the clause's subject, so a single name before it does not resolve it (as "him"
    # above); a noun after a determiner ("sign the treaty and ratify it") may resolve a verb's.
    verb_object = _object(toks, i) and not nouns and not _expletive(toks, i)
    if word in ("it", "them") and _name_count(before) < 2 and (prev in _PREPOSITIONS or verb_object):
        return f"unresolved {word!r}"
    if word in THING:
        # "When do members vote on whether they agree?": a plural noun before, not the one asked
        # about ("How many warheads do they have?" still asks about someone earlier).
        asked = _asked_about(toks)
        plural = word not in ("it", "its") and any(
            w.endswith("s") and w not in stops and j not in asked for j, (w, _) in enumerate(before)
        )
        if names or nouns or plural or word == "it" and _expletive(toks, i):
            return None
        return f"unresolved {word!r}"
    if word == "there":
        # A place "there" can stand for: a name after "in", "at", "to", "visit" ...
        places = [w for j, (w, cap) in enumerate(before) if cap and j and before[j - 1][0] in _TO_PLACE]
        return None if nxt in _BE or prev in _BE or places else "unresolved 'there'"
    if word == "then":
        if prev == "and" or re.search(r",\s*then\b", question, re.IGNORECASE):
            return None  # "X, then Y", "and then": a sequence, not a time
        if {"if", "when"} & {w for w, _ in before} or any(_YEAR_OR_DATE.match(w) for w, _ in before):
            return None
        return "unresolved 'then'"
    if word == "that":
        pronoun = (not nxt or prev in _THAT_BEFORE) and prev not in ("so", "such")
        return "unresolved 'that'" if pronoun or _demonstrative(toks, i) else None
    if word in ("this", "these", "those"):
        if nxt in _TIME_NOUNS or word == "those" and (nxt in _GENERIC_THOSE or nxt.endswith("ing")):
            return None  # "this year"; "those fleeing France", "those who ..."
        return f"unresolved {word!r}"
    if word == "such" and nxt in ("a", "an"):
        return "unresolved 'such'"
    if prev == "the" and (
        word == "latter" or word in ("same", "other", "former") and nxt in ("", "one", "ones")
    ):
        return f"unresolved 'the {word}'"
    # "the two leaders", "both sides": a group named earlier, unless the question names anyone
    # ("What did Krasnov say the two countries ...") or says which ("the two forms of environmental
    # determinism", "the two abbots at Fécamp").
    group = word == "both" or prev == "the" and word in ("two", "three")
    after = toks[i + 2][0] if i + 2 < len(toks) else ""
    group = group and nxt.endswith("s") and not toks[i + 1][1] and after not in _TO_PLACE | _PREPOSITIONS
    if group and not _name_count(toks):
        return "unresolved 'both'" if word == "both" else f"unresolved 'the {word}'"
    return None


def _object(toks: list[tuple[str, bool]], i: int) -> bool:
    """Tell whether the "it" or "them" at `toks[i]` follows a verb, as its object ("makes it", "signed it").

    Not when a verb follows it: "announced it would embargo" makes it the subject of its own clause.
    """
    if not i or toks[i][0] not in ("it", "them"):
        return False
    prev, cap = toks[i - 1]
    nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
    return not cap and (prev not in stopwords() or prev in _LIGHT_VERBS) and nxt not in _AUX | _BE


def _placed(toks: list[tuple[str, bool]]) -> set[int]:
    """Return the positions of the names that `toks` place after "of", "in" ... (places, organisations).

    "Which actions of Pyongyang was he ...": Pyongyang; "Why did Kim say he would meet Putin in Moscow?":
    Moscow, not Kim.
    """
    stops = stopwords()
    placed: set[int] = set()
    for j, (w, cap) in enumerate(toks):
        if cap and w not in stops and j and (toks[j - 1][0] in _PLACE_BEFORE or j - 1 in placed):
            placed.add(j)  # "talks in North Korea": both words
    return placed


def _demonstrative(toks: list[tuple[str, bool]], i: int) -> bool:
    """Tell whether the "that" at `toks[i]` is a demonstrative ("How did Washington answer that warning?").

    A verb's bare form is before it (after "did", "would" ...), and its noun, singular, ends the question or
    comes before a preposition. Not a conjunction ("What did Trump say that Kim wanted?", "the claim that
    sanctions failed") nor a relative pronoun ("Which agreement did the countries sign that covers crime?").
    """
    if i < 2 or i + 1 >= len(toks):
        return False
    (verb, verb_cap), (noun, noun_cap) = toks[i - 1], toks[i + 1]
    after = toks[i + 2][0] if i + 2 < len(toks) else ""
    stops = stopwords()
    is_verb = not verb_cap and (verb not in stops or verb in _LIGHT_VERBS) and verb not in _CLAUSE_VERBS
    # Bare after "did" or "would", with no determiner nor plural: "did Washington answer", not "did the
    # claim" nor "did they sign agreements that matter to".
    bare = any(w in _DO_OR_MODAL for w, _ in toks[: i - 1]) and toks[i - 2][0] not in _DETERMINERS
    is_verb = is_verb and bare and _singular(verb)
    # A singular noun, not a verb of a relative clause: not "that covers", "that ended", "that ran".
    is_noun = not noun_cap and noun not in stops | _IRREGULAR_PAST and _singular(noun)
    is_noun = is_noun and not noun.endswith("ed")
    return is_verb and is_noun and (not after or after in _NOUN_END)


def _singular(word: str) -> bool:
    """Tell whether `word` does not look plural or third-person ("warning", "address"; not "covers")."""
    return not word.endswith("s") or word.endswith(("ss", "us", "is"))


def _predicate(toks: list[tuple[str, bool]], i: int) -> bool:
    """Tell whether the "it" at `toks[i]` ends the question as what its subject is ("Could Russia be it?").

    After "be" or "been" ("Could Russia be it?"), or after the subject of a question opening with a form of
    "be" ("Was Hanoi it?", "Is that it?"); not the subject itself ("What is it?", "Who was it?").
    """
    if i != len(toks) - 1 or i < 2:
        return False
    return toks[i - 1][0] in ("be", "been") or toks[0][0] in _BE and toks[i - 1][0] not in _PREPOSITIONS


def _name_count(toks: list[tuple[str, bool]]) -> int:
    """Count the names among `toks`: runs of capitalised words ("North Korea" is one)."""
    stops = stopwords()
    count, inside = 0, False
    for w, cap in toks:
        is_name = cap and w not in stops
        count += is_name and not inside
        inside = is_name
    return count


def _asked_about(toks: list[tuple[str, bool]]) -> set[int]:
    """Return the positions of the noun phrase a question asks about ("what weapons", "how many warheads")."""
    start = 1 if toks[0][0] in ("what", "which", "whose") else 0
    if toks[0][0] == "how" and len(toks) > 1 and toks[1][0] in ("many", "much"):
        start = 2
    end = start
    while start and end < len(toks) and toks[end][0] not in stopwords():
        end += 1
        kind_of = toks[end - 1][0] in ("kind", "kinds", "type", "types", "sort")
        if kind_of and end + 1 < len(toks) and toks[end][0] == "of":
            end += 1  # "what kind of crimes"
    return set(range(start, end)) if start else set()


def _expletive(toks: list[tuple[str, bool]], i: int) -> bool:
    """Tell whether the "it" at `toks[i]` stands for nothing ("Is it true that", "does it take to")."""
    prev = toks[i - 1][0] if i else ""
    nxt = toks[i + 1][0] if i + 1 < len(toks) else ""
    later = {w for w, _ in toks[i + 2 : i + 6]}
    if nxt in _EXPLETIVE_NEXT or prev in _BE and nxt in ("that", "to"):
        return True
    return nxt in _DUMMY_VERBS and bool(later & {"to", "for", "that", "when", "if"})
