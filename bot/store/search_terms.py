"""The words a question is searched and indexed by: lower case, stop words dropped, stemmed in the word's language.

Both databases index these terms as given (SQLite FTS5 `unicode61`, PostgreSQL `to_tsvector('simple', …)`), so a
question finds the same corrections on either. The language is chosen per word by its script (Cyrillic: Russian,
Greek, Arabic, Devanagari) and, for Latin script, per text by which language's stop words it holds (English when
none says otherwise). Snowball stems still leave some forms apart ("правила" → "прав", "правилах" → "правил",
"создать" → "созда", "создавать" → "создава"), so a term also matches the terms it is a prefix of, or that are its
prefix, once both are at least `MIN_PREFIX` letters long; and a misspelt term matches the server's terms one edit
away from it (`Vocabulary`)."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Protocol, cast

import snowballstemmer  # pyright: ignore[reportMissingTypeStubs]

WORD = re.compile(r"[^\W_]+")
MAX_TERMS = 12  # a question is searched by at most this many terms
MIN_PREFIX = 4  # shorter stems match only themselves: "car" must not find "card", "mar" not "market"
MIN_TYPO = 5  # terms this long may be misspelt by one edit ("grefer" for "griefer"); shorter ones are too ambiguous


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that say nothing about what a question is about, per language (before stemming, lower case, ё as е).
STOP_WORDS: dict[str, frozenset[str]] = {
    "english": _words(
        """a about above after again against all also am an and any anyone anything are as at be because been before
        being below between both but by can cannot could did do does doing done down during each either else even
        every few for from further get gets got had has have having he her here hers him his how however i if in
        into is it its itself just know like made make many may me might more most much must my need no not now of
        off on once only or other our ours out over own please same say says she should since so some someone
        something such tell than that the their theirs them then there these they this those through to too under
        until up very want was way we were what when where which while who whom whose why will with would yes yet
        you your yours"""
    ),
    "russian": _words(
        """а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже для до его ее ей
        ему если есть еще же за здесь и из или им их к как какая какие каким каких каком какой какую ко когда кого
        кто ли либо мне меня мной мой моя мои мочь можно мы на над надо нам нас не него нее нет ни них но ну о об
        однако он она они оно от очень объясни объясните по под подскажи пожалуйста подскажите после почему при про
        расскажи расскажите с сам свой свою себе себя сейчас сказать скажите сколько со так также там тебе тебя то
        тоже только тот тут ты у уже хочу хотел хотела чего чем что чтобы чье чья эта эти это этот я"""
    ),
    "french": _words(
        """au aux avec ce ces comment dans de des du elle en est et il ils je la le les leur mais me mes moi mon ne
        nous on ou où par pas pour qu que quel quelle qui quoi sa se ses son sur ta te tes toi ton tu un une vos
        votre vous"""
    ),
    "german": _words(
        """aber als am an auch auf aus bei bin bis das dass dem den der des die du ein eine einen einem einer er es für
        hat haben ich ihr im in ist ja kann man mein mich mir mit nicht noch oder sie sind so um und uns von was wer
        wie wo wir zu zum zur"""
    ),
    "spanish": _words(
        """a al como con cual cuando cuanto de del donde el ella en es esta este hay la las le lo los me mi no nos o
        para pero por que qué quien se si sin su sus te tu un una y yo"""
    ),
    "italian": _words(
        """a al alla come con cosa da del della di dove e è gli ha i il in io la le lo ma mi nel non per perché quale
        quando questo se si sono su ti tu un una"""
    ),
    "portuguese": _words(
        """a ao as com como da das de do dos e ela ele em eu isso mas me meu minha na no não o onde os para pela pelo
        por qual quando que se seu sua um uma você"""
    ),
    "dutch": _words(
        """aan als bij dat de den der die dit een en er het hoe hij ik in is je kan met mijn niet of om op te van voor
        wat waar wie wij ze zijn"""
    ),
}
LATIN = ("english", "french", "german", "spanish", "italian", "portuguese", "dutch")


def _script(char: str) -> str | None:
    """The stemmer for a word starting with `char`, by its script (None: not stemmed, as for CJK)."""
    if char.isdigit():
        return None
    code = ord(char)
    if 0x0400 <= code <= 0x052F:
        return "russian"
    if 0x0370 <= code <= 0x03FF:
        return "greek"
    if 0x0600 <= code <= 0x06FF:
        return "arabic"
    if 0x0900 <= code <= 0x097F:
        return "hindi"
    if code < 0x0250 or 0x1E00 <= code <= 0x1EFF:
        return "latin"
    return None


class _Stemmer(Protocol):
    def stemWord(self, word: str) -> str: ...


@cache
def _stemmer(language: str) -> _Stemmer:
    return cast(_Stemmer, snowballstemmer.stemmer(language))  # pyright: ignore[reportUnknownMemberType]


def _plain(word: str) -> str:
    """A Latin word without accents, so "cafe" finds "café" (Cyrillic й and ё are letters of their own)."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def _latin_language(words: Sequence[str]) -> str:
    """The Latin-script language whose stop words `words` hold most (English when none holds more)."""
    best, hits = "english", 0
    for language in LATIN:
        count = sum(w in STOP_WORDS[language] for w in words)
        if count > hits:
            best, hits = language, count
    return best


def terms(text: str, limit: int | None = None) -> list[str]:
    """The stems of `text`'s meaningful words, in order, without repeats (at most `limit`)."""
    words = [w.replace("ё", "е") for w in WORD.findall(text.lower())]
    scripts = [_script(w[0]) for w in words]
    latin = _latin_language([w for w, s in zip(words, scripts, strict=True) if s == "latin"])
    found: list[str] = []
    for word, script in zip(words, scripts, strict=True):
        language = latin if script == "latin" else script
        if language is not None and (word in STOP_WORDS.get(language, ()) or word in STOP_WORDS["english"]):
            continue
        if len(word) < 3 and not word.isdigit():
            continue
        stem = word if language is None else _stemmer(language).stemWord(word)
        if script == "latin":
            stem = _plain(stem)
        found.append(stem)
    unique = list(dict.fromkeys(found))
    return unique if limit is None else unique[:limit]


def index_text(text: str) -> str:
    """What a correction's question is indexed by (the `search_terms` column)."""
    return " ".join(terms(text))


def related(a: str, b: str) -> bool:
    """Whether two terms are taken for one word: equal, or one starts the other and both are long enough."""
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_PREFIX and long.startswith(short)


def shorter_forms(term: str) -> list[str]:
    """The terms that `term` starts with and that `related` would match it to."""
    return [term[:n] for n in range(MIN_PREFIX, len(term))]


def _one_off(term: str) -> set[str]:
    """`term` and every string one letter shorter: two terms one edit apart (a letter added, dropped, replaced, or
    two swapped) share at least one of these."""
    return {term} | {term[:i] + term[i + 1 :] for i in range(len(term))}


class Vocabulary:
    """A server's indexed terms, for finding what a misspelt term was meant to be (bounded by the server's words)."""

    def __init__(self, indexed: Iterable[str]) -> None:
        self.terms = frozenset(indexed)
        self._sorted = sorted(self.terms)
        self._near: dict[str, list[str]] = {}
        for term in self.terms:
            if len(term) >= MIN_TYPO:
                for key in _one_off(term):
                    self._near.setdefault(key, []).append(term)

    def near(self, term: str) -> list[str]:
        """The server's terms one edit from `term`, when neither it nor any term it is related to is indexed."""
        if len(term) < MIN_TYPO or term in self.terms or any(t in self.terms for t in shorter_forms(term)):
            return []
        after = bisect.bisect_left(self._sorted, term)
        if after < len(self._sorted) and self._sorted[after].startswith(term):
            return []  # a longer form of it is indexed: not a typo
        found = {t for key in _one_off(term) for t in self._near.get(key, ()) if t != term}
        return sorted(found)
