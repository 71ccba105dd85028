"""The words a question is searched and indexed by: lower case, stop words dropped, stemmed in the word's language.

Both databases index these terms as given (SQLite FTS5 `unicode61`, PostgreSQL `to_tsvector('simple', …)`), so a
question finds the same corrections on either. The language is chosen per word by its script (Cyrillic: Russian,
Greek, Arabic, Devanagari) and, for Latin script, per text by which language's stop words it holds (English when
none says otherwise). Snowball stems still leave some forms apart ("правила" → "прав", "правилах" → "правил",
"создать" → "созда", "создавать" → "создава"), so a term also matches the terms that share all but its last two
letters, and the shorter ones that start it (`lookups`, `matches`); a Russian word also finds the server's words that
are it with a prefix taken or dropped, or its other number where that is another word (`other_forms`); and a misspelt
word finds the server's words one edit away from it (`Vocabulary`)."""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol, cast

import snowballstemmer  # pyright: ignore[reportMissingTypeStubs]

WORD = re.compile(r"[^\W_]+")
MAX_TERMS = 12  # a question is searched by at most this many terms
MIN_PREFIX = 4  # shorter stems match only themselves and the 4-letter stems they start: "mar" must not find "market"
MIN_TYPO = 4  # words this long may be misspelt by one edit ("shpo" for "shop"); shorter ones are too ambiguous


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that say nothing about what a question is about, per language (before stemming, lower case, ё as е).
STOP_WORDS: dict[str, frozenset[str]] = {
    "english": _words(
        """a about above after again against all also am an and any anyone anything are as at be because been before
        being below between both but by can cannot could did do does doing done down during each either else even
        every few for from further get gets getting got had has have having he her here hers him his how however i if in
        into is it its itself just know like made make many may me might more most much must my need no not now of
        off on once only or other our ours out over own please same say says she should since so some someone
        something such tell than that the their theirs them then there these they this those through to too under
        until up very want was way we were what when where which while who whom whose why will with would yes yet
        you your yours"""
    ),
    "russian": _words(
        """а без более будем будет будете буду будут бы был была были было быть в вам вас весь во вот все всего всех вы
        где да даже для до его ее ей ему если есть еще же за здесь и из или им их к как какая какие каким каких
        каком какой какую ко когда кого кому кто куда ли либо мне меня мной мой моя мои мочь можно мы на над надо
        нам нас не него нее нет ни них но ну о об однако он она они оно от очень объясни объясните по под подскажи
        пожалуйста подскажите после почему при про расскажи расскажите с сам свой свою себе себя сейчас сказать
        скажите сколько со так также там тебе тебя то тоже только тот тут ты у уже хочу хотел хотела чего чем что
        чтобы чье чья эта эти это этот я"""
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
_ANY_STOP_WORD: frozenset[str] = frozenset[str]().union(*STOP_WORDS.values())
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


_per_thread = threading.local()


def _stemmer(language: str) -> _Stemmer:
    # A Snowball stemmer keeps the word it works on in itself: one per thread (a server's vocabulary is read in one).
    stemmers: dict[str, _Stemmer] = _per_thread.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        stemmers[language] = cast(_Stemmer, snowballstemmer.stemmer(language))  # pyright: ignore[reportUnknownMemberType]
    return stemmers[language]


@lru_cache(maxsize=65_536)
def _stem(language: str, word: str) -> str:
    # Snowball in pure Python takes ~30 µs a word; questions keep using the same words.
    return _stemmer(language).stemWord(word)


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


def words(text: str) -> list[tuple[str, str]]:
    """`text`'s meaningful words and their stems, in order, one per stem."""
    found = [w.replace("ё", "е") for w in WORD.findall(text.lower())]
    scripts = [_script(w[0]) for w in found]
    latin = _latin_language([w for w, s in zip(found, scripts, strict=True) if s == "latin"])
    kept: dict[str, str] = {}
    for word, script in zip(found, scripts, strict=True):
        language = latin if script == "latin" else script
        if language is not None and (word in STOP_WORDS.get(language, ()) or word in STOP_WORDS["english"]):
            continue
        if len(word) < 3 and not word.isdigit():
            continue
        stem = word if language is None else _stem(language, word)
        if script == "latin":
            stem = _plain(stem)
        kept.setdefault(stem, word)
    return [(word, stem) for stem, word in kept.items()]


def terms(text: str, limit: int | None = None) -> list[str]:
    """The stems of `text`'s meaningful words, in order, without repeats (at most `limit`)."""
    stems = [stem for _, stem in words(text)]
    return stems if limit is None else stems[:limit]


def index_text(text: str) -> str:
    """What a correction's question is indexed by (the `search_terms` column)."""
    return " ".join(terms(text))


def reach(term: str) -> int:
    """How many leading letters of `term` an indexed term must share with it to count as the same word: all of a
    short one, else all but the last two (Snowball leaves some endings on: "телепортац", "телепортирова")."""
    if len(term) <= MIN_PREFIX + 1:
        return len(term)
    return max(MIN_PREFIX + 1, len(term) - 2)


def lookups(term: str) -> list[tuple[str, bool]]:
    """What `term` is looked up by in the index: (a term, also every longer term it starts). The first finds the
    terms sharing its `reach`; the others the shorter terms that start it ("прав" for "правил"). A three-letter
    term also finds the four-letter ones it starts ("лаг", "лага"): the database finds all it starts, `matches`
    keeps those."""
    own = [(term[: reach(term)], len(term) >= MIN_PREFIX - 1)]
    return own + [(term[:n], False) for n in range(MIN_PREFIX, reach(term))]


def matches(term: str, indexed: str) -> bool:
    """Whether an indexed term is one that looking `term` up finds (what `lookups` finds, said in Python)."""
    if indexed == term:
        return True
    if len(term) < MIN_PREFIX:
        return len(term) == MIN_PREFIX - 1 and len(indexed) == MIN_PREFIX and indexed.startswith(term)
    return indexed.startswith(term[: reach(term)]) or (
        MIN_PREFIX <= len(indexed) < reach(term) and term.startswith(indexed)
    )


# Prefixes a Russian word takes or drops while staying about the same thing ("приват" / "заприватить",
# "грузить" / "загрузить"): one-letter ones and "не" are left out, as too many unrelated words differ by them alone.
RUSSIAN_PREFIXES = (
    "без", "бес", "вз", "вс", "вы", "до", "за", "из", "ис", "на", "над", "об", "от", "пере", "по", "под", "пре", "пред",
    "при", "про", "раз", "рас", "со",
)  # fmt: skip
MIN_ROOT = 5  # letters left beside a prefix: shorter roots ("ход", "каз") mean different things with each prefix
# Words whose plural is another word (Snowball stems them apart): each stem and the stems of its other number.
SUPPLETIVE: dict[str, frozenset[str]] = {
    "друг": frozenset({"друз"}),
    "друз": frozenset({"друг"}),
    "человек": frozenset({"люд"}),
    "люд": frozenset({"человек"}),
    "ребенок": frozenset({"дет"}),
    "ребенк": frozenset({"дет"}),
    "дет": frozenset({"ребенок", "ребенк"}),
}


def other_forms(term: str) -> set[str]:
    """Stems of the same Russian word with a prefix taken or dropped, or its plural's (or singular's) stem."""
    if not term or _script(term[0]) != "russian":
        return set()
    found = set(SUPPLETIVE.get(term, ()))
    if len(term) >= MIN_ROOT:
        found |= {prefix + term for prefix in RUSSIAN_PREFIXES}
    found |= {term[len(p) :] for p in RUSSIAN_PREFIXES if term.startswith(p) and len(term) - len(p) >= MIN_ROOT}
    return found - {term}


def _one_off(word: str) -> set[str]:
    """`word` and every string one letter shorter: two words one edit apart (a letter added, dropped, replaced, or
    two swapped) share at least one of these."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def spellings(text: str) -> list[str]:
    """`text`'s words as written (lower case), long enough to be misspelt and no stop words: a vocabulary's words."""
    found = (w.replace("ё", "е") for w in WORD.findall(text.lower()))
    return [w for w in found if len(w) >= MIN_TYPO and not w.isdigit() and w not in _ANY_STOP_WORD]


def stem_word(word: str) -> str:
    """One word's stem with no text around it (a Latin-script word taken for English)."""
    script = _script(word[0])
    if script is None:
        return word
    if script == "latin":
        return _plain(_stem("english", word))
    return _stem(script, word)


class Vocabulary:
    """The words of a server's corrections as written (at most `limit`, the most used) and the terms they are indexed
    by, for finding which word a misspelt one was meant to be."""

    def __init__(self, written: Iterable[str], indexed: Iterable[str], limit: int = 20_000) -> None:
        kept = [word for word, _ in Counter(written).most_common(limit)]
        self._words = frozenset(kept)
        self._stem_set = frozenset(indexed)
        self._stems = sorted(self._stem_set)
        self._near: dict[str, list[str]] = {}
        for word in kept:
            for key in _one_off(word):
                self._near.setdefault(key, []).append(word)

    def __len__(self) -> int:
        return len(self._words)

    def _found(self, term: str) -> bool:
        """Whether looking `term` up finds any of the server's terms as it is."""
        for lookup, prefix in lookups(term):
            at = bisect.bisect_left(self._stems, lookup)
            if at < len(self._stems) and (self._stems[at] == lookup or (prefix and self._stems[at].startswith(lookup))):
                return True
        return False

    def related(self, term: str) -> list[str]:
        """The server's terms that are `term`'s word with a prefix taken or dropped, or its other number
        (`other_forms`): "приват" finds "заприватить", "друзьям" finds "другу"."""
        return sorted(other_forms(term) & self._stem_set)

    def also(self, word: str, term: str) -> tuple[str, ...]:
        """The server's terms that `word` (whose stem is `term`) may also be: another form of it, or what it is a
        misspelling of."""
        return tuple(self.related(term)) + tuple(self.near(word, term))

    def near(self, word: str, term: str) -> list[str]:
        """The stems of the server's words one edit from `word` (whose stem is `term`), when `term` finds nothing."""
        if len(word) < MIN_TYPO or word in self._words or self._found(term):
            return []
        found = {w for key in _one_off(word) for w in self._near.get(key, ()) if w != word}
        return sorted({stem_word(w) for w in found} - {term})
