"""The encoder's tokenizer for questions, opened in milliseconds instead of a second.

Why: ``tokenizers`` builds its 250,000-piece Unigram model on load (about a second, the largest
part of a one-shot ``ask`` once the model itself is memory-mapped). A question only ever meets
the pieces that are its own substrings, so here the pieces live in a memory-mapped marisa trie
(with their ids and scores in two ``.npy`` arrays) and the Viterbi search of ``tokenizers``'
Unigram model runs over that. Normalising and pre-tokenising stay with ``tokenizers`` itself,
from the same ``tokenizer.json`` without its vocabulary. The ids are the same as the full
tokenizer's (tested on every shipped question and on edge cases); a text holding a special
token (``<s>``, ``<mask>``) goes to the full tokenizer, as does anything that is not a Unigram
model (those get ``None`` from ``open_query_tokenizer``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
FOLDER = "query-tokenizer"
FILES = ("pieces.marisa", "piece_ids.npy", "piece_scores.npy", "frame.json", "unigram.json")
UNKNOWN_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY: an unknown character scores min_score - 10


class QueryTokenizer:
    def __init__(self, folder: Path, max_tokens: int):
        import marisa_trie
        from tokenizers import Tokenizer

        self.pieces = marisa_trie.Trie()
        self.pieces.mmap(str(folder / "pieces.marisa"))
        self.piece_ids = np.load(folder / "piece_ids.npy")
        self.piece_scores = np.load(folder / "piece_scores.npy")
        frame = Tokenizer.from_file(str(folder / "frame.json"))
        self.normalizer, self.pre_tokenizer = frame.normalizer, frame.pre_tokenizer
        facts = json.loads((folder / "unigram.json").read_text())
        self.unknown_id = int(facts["unk_id"])
        self.unknown_score = float(facts["min_score"]) - UNKNOWN_PENALTY
        self.before, self.after = list(facts["before"]), list(facts["after"])
        self.special = tuple(facts["special"])
        self.content_limit = max(0, max_tokens - len(self.before) - len(self.after))

    def handles(self, text: str) -> bool:
        return not any(token in text for token in self.special)

    def ids(self, text: str) -> list[int]:
        """``tokenizers``' ids for ``text`` (which ``handles``), truncated to the model's window."""
        return self.before + [piece_id for piece_id, _ in self.pieces_of(text)] + self.after

    def pieces_of(self, text: str) -> list[tuple[int, str]]:
        """The ids of ``ids(text)`` without the special tokens around them, each with the text
        of its piece (normalised, with the word-start mark)."""
        normalized = self.normalizer.normalize_str(text) if self.normalizer is not None else text
        words = self.pre_tokenizer.pre_tokenize_str(normalized) if self.pre_tokenizer is not None \
            else [(normalized, None)]
        return [pair for word, _ in words for pair in self._viterbi(word)][: self.content_limit]

    def _viterbi(self, word: str) -> list[tuple[int, str]]:
        """tokenizers' ``Unigram::encode_optimized``: the best-scoring split into pieces; a
        character with no piece of its own is unknown, and runs of unknowns are one token."""
        size = len(word)
        best: list[tuple[float, int, int] | None] = [None] * (size + 1)
        best[0] = (0.0, 0, -1)
        for start in range(size):
            so_far = best[start][0]
            single = False
            tail = word[start:]
            cut = tail.find("\0")  # marisa keys end at NUL; no piece holds one
            for piece, key in self.pieces.iter_prefixes_with_ids(tail if cut < 0 else tail[:cut]):
                end = start + len(piece)
                score = so_far + float(self.piece_scores[key])
                if best[end] is None or score > best[end][0]:
                    best[end] = (score, start, int(self.piece_ids[key]))
                single = single or len(piece) == 1
            if not single:
                score = so_far + self.unknown_score
                if best[start + 1] is None or score > best[start + 1][0]:
                    best[start + 1] = (score, start, self.unknown_id)
        pieces: list[tuple[int, str]] = []  # last first
        end = size
        while end > 0:
            _, start, piece_id = best[end]
            if piece_id == self.unknown_id and pieces and pieces[-1][0] == self.unknown_id:
                pieces[-1] = (piece_id, word[start:end] + pieces[-1][1])
            else:
                pieces.append((piece_id, word[start:end]))
            end = start
        return pieces[::-1]


def _layout(tokenizer_json: dict) -> dict | None:
    """What the fast path needs from ``tokenizer.json``, or None when it cannot reproduce it."""
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "Unigram" or model.get("byte_fallback") or model.get("unk_id") is None:
        return None
    processor = tokenizer_json.get("post_processor") or {}
    if processor.get("type") != "TemplateProcessing":
        return None
    specials = processor.get("special_tokens", {})
    before, after, seen_sequence = [], [], False
    for item in processor.get("single", []):
        if "Sequence" in item:
            seen_sequence = True
        elif "SpecialToken" in item:
            (after if seen_sequence else before).extend(specials[item["SpecialToken"]["id"]]["ids"])
    vocab = model["vocab"]
    return {
        "unk_id": model["unk_id"], "min_score": min(score for _, score in vocab),
        "before": before, "after": after,
        "special": [token["content"] for token in tokenizer_json.get("added_tokens", [])],
    }


def prepare_query_tokenizer(model_folder: Path, folder: Path) -> bool:
    """Write the trie, arrays and frame for ``model_folder``'s tokenizer into ``folder/FOLDER``
    (atomically, once). False when its tokenizer is not one the fast path reproduces."""
    import marisa_trie

    target = folder / FOLDER
    if all((target / name).is_file() for name in FILES):
        return True
    tokenizer_json = json.loads((model_folder / "tokenizer.json").read_text(encoding="utf-8"))
    facts = _layout(tokenizer_json)
    if facts is None:
        return False
    vocab = tokenizer_json["model"]["vocab"]
    staging = Path(tempfile.mkdtemp(prefix=FOLDER + ".", dir=folder))
    trie = marisa_trie.Trie([piece for piece, _ in vocab])
    trie.save(str(staging / "pieces.marisa"))
    keys = np.array([trie.key_id(piece) for piece, _ in vocab], dtype=np.int64)
    piece_ids = np.zeros(len(vocab), dtype=np.int32)
    piece_scores = np.zeros(len(vocab), dtype=np.float64)  # tokenizers sums f64 scores: keep them exact
    piece_ids[keys] = np.arange(len(vocab), dtype=np.int32)
    piece_scores[keys] = [score for _, score in vocab]
    np.save(staging / "piece_ids.npy", piece_ids)
    np.save(staging / "piece_scores.npy", piece_scores)
    frame = dict(tokenizer_json, added_tokens=[], post_processor=None, truncation=None, padding=None,
                 model={"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0]], "byte_fallback": False})
    (staging / "frame.json").write_text(json.dumps(frame, ensure_ascii=False), encoding="utf-8")
    (staging / "unigram.json").write_text(json.dumps(facts), encoding="utf-8")
    try:
        os.replace(staging, target)
    except OSError:  # another process prepared it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
        if not all((target / name).is_file() for name in FILES):
            raise
    return True


def open_query_tokenizer(model_folder: Path, folder: Path, max_tokens: int) -> QueryTokenizer | None:
    """The fast tokenizer, prepared on first use (and again if damaged); None (use
    ``tokenizers``) if it cannot be."""
    for attempt in range(2):
        try:
            if not prepare_query_tokenizer(model_folder, folder):
                return None
            return QueryTokenizer(folder / FOLDER, max_tokens)
        except Exception as problem:  # noqa: BLE001 - a damaged cache must not stop answering
            log.warning("the question tokenizer in %s is unusable (%s); %s", folder / FOLDER, problem,
                        "preparing it again" if attempt == 0 else "using tokenizer.json")
            shutil.rmtree(folder / FOLDER, ignore_errors=True)
    return None
