"""jieba's word dictionary as a memory-mapped trie, so a process can segment at once.

Why: jieba keeps its dictionary as a Python dict of ~500,000 words and prefixes, unmarshalled
from its cache at first use: about a second, the largest part of a one-shot ``ask``. The same
table as a marisa trie (2 MB, written once into ``MODEL_CACHE_DIR``) is mapped in well under a
millisecond. jieba's own algorithms run unchanged on it, so the words are the same; each entry
looked up is then remembered in a plain dict, which keeps repeated segmentation near dict speed.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .cache_files import keep_cache_file

log = logging.getLogger(__name__)
TRIE_FORMAT = "<I"  # one unsigned frequency per entry (0 for prefixes that are not words)
TOTAL_KEY = " total"  # jieba's sum of frequencies; no dictionary word holds a space


class TrieFrequencies(dict):
    """jieba's ``FREQ`` mapping (word → frequency, prefixes → 0), read from a trie on demand."""

    __slots__ = ("trie",)

    def __init__(self, trie) -> None:
        super().__init__()
        self.trie = trie

    def __missing__(self, key: str) -> int | None:
        found = self.trie.get(key)
        value = found[0][0] if found else None
        dict.__setitem__(self, key, value)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self[key] is not None

    def get(self, key: str, default=None):
        value = self[key]
        return default if value is None else value


def trie_path(cache_dir: Path, tokenizer) -> Path:
    """Named after the dictionary file's size and time, so a changed dictionary gets a new trie."""
    with tokenizer.get_dict_file() as handle:
        stamp = os.stat(handle.name)
    return Path(cache_dir) / f"jieba-{stamp.st_size}-{int(stamp.st_mtime)}.marisa"


def write_trie(tokenizer, path: Path) -> None:
    """Load jieba's dictionary the usual way once and keep it as a trie (atomically)."""
    import marisa_trie

    tokenizer.check_initialized()
    total = tokenizer.total
    entries = ((word, (frequency,)) for word, frequency in tokenizer.FREQ.items())
    trie = marisa_trie.RecordTrie(TRIE_FORMAT, [(TOTAL_KEY, (total,)), *entries])
    keep_cache_file(path, lambda partial: trie.save(str(partial)), stale="jieba-*.marisa")  # older: another jieba


def install(tokenizer, cache_dir: Path) -> bool:
    """Give ``tokenizer`` (``jieba.dt``) its dictionary from the trie: True when it was mapped;
    False when the trie had to be written (or rewritten: damaged) and jieba loaded its own way."""
    import marisa_trie

    if tokenizer.initialized:
        return False
    path = trie_path(cache_dir, tokenizer)
    if path.is_file():
        try:
            trie = marisa_trie.RecordTrie(TRIE_FORMAT)
            trie.mmap(str(path))
            total = trie.get(TOTAL_KEY)
            if not total:
                raise ValueError("no total frequency in it")
            tokenizer.FREQ, tokenizer.total, tokenizer.initialized = TrieFrequencies(trie), total[0][0], True
            return True
        except Exception as problem:  # noqa: BLE001 - a damaged cache file must not stop segmentation
            log.warning("jieba's dictionary trie %s is unusable (%s); writing it again", path, problem)
    try:
        write_trie(tokenizer, path)  # loads the dictionary the usual way first
    except OSError as failure:
        log.warning("cannot keep jieba's dictionary as a trie in %s (%s): it loads in full each time", path, failure)
        tokenizer.check_initialized()
    return False
