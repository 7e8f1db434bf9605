"""The one interface retrieval uses to reach an index, and the choice of backend behind it.

Two backends implement it: ``index_store.KnowledgeIndex`` (FAISS + bm25s files in INDEX_DIR,
the default) and ``milvus_index.MilvusIndex`` (a Milvus collection: Milvus Lite in a file, or a
server shared by several bot replicas). Passages are named by an integer *key* that only the
backend interprets (a row for FAISS, the passage id's 64 bits for Milvus); fusion, excerpts and
confidence stay on our side, so both backends give the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import IndexSettings
from .documents import Passage
from .index_store import Manifest


class IndexBackend(Protocol):
    manifest: Manifest
    round_trips: bool  # each lookup costs a request (a server): callers batch what they can

    @property
    def version(self) -> str:
        """Changes with every build: a bot compares it to take up a rebuilt index."""

    @property
    def passage_count(self) -> int: ...

    def dense_search(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """Passage keys by inner product with ``vector``, best first."""

    def bm25_search(
        self, weighted_tokens: dict[str, float], limit: int, also: Iterable[int] = (),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """The ``limit`` best passages with a positive BM25 score (each token's contribution times
        its weight), and the scores of the ``also`` keys (missing: 0) for the fusion."""

    def passage(self, key: int) -> Passage: ...

    def passage_vectors(self, keys: list[int]) -> np.ndarray: ...

    def sentence_vectors_of(self, key: int) -> np.ndarray: ...

    def prefetch(self, keys: list[int]) -> list[int]:
        """Read these passages and their vectors in one go (a round trip for a server); returns
        the keys still in the index (an update may have removed one since the search)."""

    def document_frequencies(self, tokens: Iterable[str]) -> dict[str, int]: ...

    def passage_by_id(self, passage_id: str) -> Passage | None: ...

    def article_passages(self, article_id: str) -> list[Passage]: ...

    def sample_passages(self, count: int, seed: int | None = None) -> list[Passage]:
        """Up to ``count`` passages from across the corpus (examples, the corpus's script)."""

    def iter_passages(self) -> Iterator[Passage]: ...


def open_index(settings: IndexSettings, expected_model: str | None = None) -> IndexBackend:
    """The index that ``settings`` name (INDEX_BACKEND), checked against the model in use."""
    if settings.backend == "milvus":
        from .milvus_index import MilvusIndex

        return MilvusIndex.open(settings, expected_model=expected_model)
    from .index_store import load_index

    return load_index(settings.index_dir, expected_model=expected_model)


def index_version(settings: IndexSettings) -> str | None:
    """The version of the index a new ``open_index`` would serve, without opening it."""
    if settings.backend == "milvus":
        from .milvus_index import stored_version

        return stored_version(settings)
    from .index_store import current_build

    build = current_build(Path(settings.index_dir))
    return str(build) if build is not None else None
