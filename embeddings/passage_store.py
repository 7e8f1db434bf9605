"""Passages read from disk on demand: an archive of a million passages is not a million Python
objects in memory. ``passages.jsonl`` keeps one passage per line; ``passage_offsets.npy`` says
where each line starts, so row ``i`` is one ``pread`` and one ``json.loads`` away."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .documents import Passage

CACHED_PASSAGES = 8192


class PassageStore(Sequence):
    def __init__(self, path: Path, offsets: np.ndarray):
        self.path = Path(path)
        self.offsets = offsets  # len(self) + 1 byte offsets: line i is offsets[i]:offsets[i + 1]
        self._fd = os.open(self.path, os.O_RDONLY)
        self._row = functools.lru_cache(maxsize=CACHED_PASSAGES)(self._read)

    def __del__(self) -> None:
        try:
            os.close(self._fd)
        except (OSError, AttributeError):
            pass

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _read(self, row: int) -> Passage:
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        return Passage.from_json(json.loads(os.pread(self._fd, end - start, start)))

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self._row(i) for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._row(row)

    def __iter__(self) -> Iterator[Passage]:
        """Streams the file (a whole pass does not fill the cache)."""
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield Passage.from_json(json.loads(line))


def write_passages(path: Path, passages) -> np.ndarray:
    """Writes the passages one per line; returns the line offsets (for ``PassageStore``)."""
    offsets = [0]
    with Path(path).open("wb") as out:
        for passage in passages:
            line = (json.dumps(passage.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
            out.write(line)
            offsets.append(offsets[-1] + len(line))
    return np.array(offsets, dtype=np.int64)


def line_offsets(path: Path) -> np.ndarray:
    """Offsets of a ``passages.jsonl`` written without them (index format 2)."""
    offsets = [0]
    with Path(path).open("rb") as lines:
        for line in lines:
            offsets.append(offsets[-1] + len(line))
    return np.array(offsets, dtype=np.int64)
