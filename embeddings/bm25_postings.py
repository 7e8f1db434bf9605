"""The BM25 index that bm25s saved, read back without importing bm25s.

Why: bm25s stores each token's per-passage scores as a sparse column (``data``, ``indices``,
``indptr``) beside its vocabulary; that is all a question needs. Importing bm25s to load them
also imports scipy (0.4 s of a one-shot ``ask``). Builds still use bm25s, and a test checks that
these postings score as bm25s does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# bm25s's own file names (BM25.save / BM25.load)
DATA, INDICES, INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
VOCAB, PARAMS = "vocab.index.json", "params.index.json"
PRECOMPUTED_METHODS = ("lucene", "robertson", "atire")  # no per-passage correction at query time


@dataclass
class Bm25Postings:
    data: np.ndarray  # each posting's score
    indices: np.ndarray  # each posting's passage row
    indptr: np.ndarray  # a token's postings are data[indptr[c]:indptr[c + 1]]
    vocab: dict[str, int]  # token → column

    @classmethod
    def read(cls, folder: Path) -> "Bm25Postings":
        folder = Path(folder)
        params = json.loads((folder / PARAMS).read_text(encoding="utf-8"))
        if params.get("method", "lucene") not in PRECOMPUTED_METHODS:
            raise ValueError(f"{folder}: BM25 method {params.get('method')!r} is not one this reader serves")
        vocab = json.loads((folder / VOCAB).read_text(encoding="utf-8"))
        arrays = [np.load(folder / name, mmap_mode="r", allow_pickle=False) for name in (DATA, INDICES, INDPTR)]
        return cls(*arrays, vocab=vocab)

    def column(self, token: str) -> tuple[int, int] | None:
        """The span of ``token``'s postings, or None when no passage holds it."""
        column = self.vocab.get(token) if token else None
        if column is None or column + 1 >= len(self.indptr):
            return None
        return int(self.indptr[column]), int(self.indptr[column + 1])
