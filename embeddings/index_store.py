"""The index on disk: passages, their vectors (FAISS), their BM25 tokens (bm25s), a manifest.

Layout: ``INDEX_DIR/builds/<id>/`` holds one complete build; ``INDEX_DIR/current`` is a symlink
to the build in service. A new build is written in ``builds/<id>.partial`` and swapped in by
renaming the symlink, which is atomic: a build killed half-way leaves the previous one whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .bm25_postings import Bm25Postings
from .documents import Passage
from .passage_store import PassageStore, line_offsets, write_passages

FORMAT_VERSION = 3
READABLE_FORMATS = (2, 3)  # format 2: float32 vectors, no offsets or key files (derived on load)
CURRENT = "current"
BUILDS = "builds"
FILES = ("manifest.json", "passages.jsonl", "vectors.npy", "sentence_vectors.npy", "dense.faiss")
FORMAT_3_FILES = ("passage_offsets.npy", "sentence_counts.npy", "passage_ids.npy", "article_ids.npy")
ANN_MIN_PASSAGES = 200_000  # exact search below this many passages, IVF + 8-bit vectors above
ANN_PROBES = 48


class IndexUnavailable(RuntimeError):
    """Missing, partial or corrupt index: the fix is always to (re)build it."""


class IndexModelMismatch(IndexUnavailable):
    pass


@dataclass
class Manifest:
    model: str
    dimension: int
    corpus_fingerprint: str
    query_prompt: str = ""
    passage_prompt: str = ""
    dense_index: str = "flat"  # "flat" (exact) or a FAISS factory string such as "IVF4096,SQ8"
    format_version: int = FORMAT_VERSION
    built_at: str = ""
    build_id: str = ""
    files: int = 0
    articles: int = 0
    passages: int = 0
    sentences: int = 0
    skipped: list[str] = field(default_factory=list)


def model_change(before: Manifest, after: Manifest) -> str:
    """Why every passage must be encoded again (empty: the same model and prompts)."""
    old = (before.model, before.query_prompt, before.passage_prompt)
    new = (after.model, after.query_prompt, after.passage_prompt)
    if old == new:
        return ""
    return f"the model or its prompts changed ({', '.join(map(repr, old))} -> {', '.join(map(repr, new))}): every passage is encoded again"


class RowsByKey:
    """Rows of an array of keys (passage or article ids), found by binary search: a million
    keys cost 16 MB, not a dictionary of a million strings."""

    def __init__(self, keys: np.ndarray):
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]

    def rows(self, key: str) -> list[int]:
        probe = np.array([key.encode("ascii", "replace")], dtype=self.sorted.dtype)[0]
        start = int(np.searchsorted(self.sorted, probe, side="left"))
        end = int(np.searchsorted(self.sorted, probe, side="right"))
        return sorted(int(r) for r in self.order[start:end])

    def get(self, key: str, default=None):
        found = self.rows(key)
        return found[0] if found else default


@dataclass
class KnowledgeIndex:
    """One loaded build: passages read on demand, vectors memory-mapped (only the rows a
    question touches are read into memory)."""

    path: Path
    manifest: Manifest
    passages: Sequence[Passage]
    vectors: np.ndarray  # (passages, dimension), float32 memory map
    sentence_vectors: np.ndarray  # (sentences, dimension), float32 memory map
    sentence_counts: np.ndarray  # sentences of each passage
    dense: object  # faiss.Index
    bm25: Bm25Postings  # what bm25s saved
    passage_ids: np.ndarray | None = None  # "S16" keys of each row
    article_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.sentence_rows = np.concatenate([[0], np.cumsum(self.sentence_counts)[:-1]]).astype(np.int64) \
            if len(self.sentence_counts) else np.zeros(0, dtype=np.int64)
        if self.passage_ids is None or self.article_ids is None:
            self.passage_ids = np.array([p.id for p in self.passages], dtype="S16")
            self.article_ids = np.array([p.article_id for p in self.passages], dtype="S16")
        self.by_id = RowsByKey(self.passage_ids)
        self.by_article = RowsByKey(self.article_ids)

    # --- the IndexBackend interface (embeddings/index_backend.py); a key is a row here ----------

    round_trips = False  # lookups are memory reads: no need to batch them

    @property
    def version(self) -> str:
        return str(self.path.resolve())

    @property
    def passage_count(self) -> int:
        return len(self.passages)

    def dense_search(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        scores, rows = self.dense.search(np.asarray(vector, dtype=np.float32).reshape(1, -1), limit)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def bm25_search(
        self, weighted_tokens: dict[str, float], limit: int, also: Iterable[int] = (),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        scores = self.bm25_scores(weighted_tokens)
        positive = np.flatnonzero(scores > 0)
        if len(positive) > limit:
            positive = positive[np.argpartition(-scores[positive], limit - 1)[:limit]]
        best = positive[np.argsort(-scores[positive], kind="stable")]
        return [(int(r), float(scores[r])) for r in best], {int(r): float(scores[r]) for r in also}

    def passage(self, key: int) -> Passage:
        return self.passages[key]

    def passage_vectors(self, keys: list[int]) -> np.ndarray:
        return np.asarray(self.vectors[keys], dtype=np.float32)

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        start = int(self.sentence_rows[row])
        return np.asarray(self.sentence_vectors[start : start + int(self.sentence_counts[row])])

    def prefetch(self, keys: list[int]) -> list[int]:
        """Rows are read on demand from memory maps: nothing to gather first."""
        return keys

    def document_frequencies(self, tokens: Iterable[str]) -> dict[str, int]:
        found = {}
        for token in tokens:
            span = self.bm25.column(token)
            found[token] = span[1] - span[0] if span else 0
        return found

    def passage_by_id(self, passage_id: str) -> Passage | None:
        row = self.by_id.get(passage_id)
        return self.passages[row] if row is not None else None

    def article_passages(self, article_id: str) -> list[Passage]:
        return [self.passages[r] for r in self.by_article.rows(article_id)]

    def sample_passages(self, count: int, seed: int | None = None) -> list[Passage]:
        """Passages from across the corpus (the same ones for the same seed)."""
        rows = random.Random(seed).sample(range(len(self.passages)), min(count, len(self.passages)))
        return [self.passages[r] for r in sorted(rows)]

    def iter_passages(self) -> Iterator[Passage]:
        return iter(self.passages)

    def bm25_scores(self, weighted_tokens: dict[str, float] | list[str]) -> np.ndarray:
        """BM25 scores of every passage, each query token's contribution times its weight.

        Reads the token's postings straight from bm25s's sparse columns, so a question costs
        what its tokens' postings cost, not a pass over every passage per token.
        """
        if not isinstance(weighted_tokens, dict):
            weighted_tokens = dict.fromkeys(weighted_tokens, 1.0)
        scores = np.zeros(len(self.passages), dtype=np.float32)
        postings = self.bm25
        for token, weight in weighted_tokens.items():
            span = postings.column(token) if weight > 0 else None
            if span is not None:
                scores[postings.indices[span[0] : span[1]]] += weight * postings.data[span[0] : span[1]]
        return scores


def rebuild_advice(index_dir: Path) -> str:
    return f"build it with `python -m embeddings.build --index {index_dir}`"


def current_build(index_dir: Path) -> Path | None:
    link = Path(index_dir) / CURRENT
    if not link.is_symlink() and not link.is_dir():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def read_manifest(index_dir: Path) -> Manifest | None:
    build = current_build(index_dir)
    if build is None:
        return None
    try:
        return Manifest(**json.loads((build / "manifest.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def load_index(index_dir: Path, expected_model: str | None = None) -> KnowledgeIndex:
    index_dir = Path(index_dir)
    build = current_build(index_dir)
    if build is None:
        raise IndexUnavailable(f"no index in {index_dir}: {rebuild_advice(index_dir)}")
    try:
        manifest = Manifest(**json.loads((build / "manifest.json").read_text()))
    except (OSError, ValueError, TypeError) as error:
        raise IndexUnavailable(
            f"the index in {index_dir} has no readable manifest ({error}): {rebuild_advice(index_dir)}"
        ) from error
    if manifest.format_version not in READABLE_FORMATS:
        raise IndexUnavailable(
            f"the index in {index_dir} has format {manifest.format_version}, this program reads "
            f"{FORMAT_VERSION}: {rebuild_advice(index_dir)} --full"
        )
    if expected_model and manifest.model != expected_model:
        raise IndexModelMismatch(
            f"the index in {index_dir} was built with the model {manifest.model!r}, but "
            f"EMBEDDING_MODEL is {expected_model!r}: rebuild it with "
            f"`python -m embeddings.build --index {index_dir}`, or set EMBEDDING_MODEL back"
        )
    try:
        return _read_build(build, manifest)
    except Exception as error:  # noqa: BLE001 - any damage means the same thing to the user
        raise IndexUnavailable(
            f"the index in {index_dir} is damaged ({type(error).__name__}: {error}): "
            f"{rebuild_advice(index_dir)} --full"
        ) from error


def _read_build(build: Path, manifest: Manifest) -> KnowledgeIndex:
    import faiss

    current = manifest.format_version >= 3
    for name in FILES + (FORMAT_3_FILES if current else ()):
        if not (build / name).is_file():
            raise FileNotFoundError(f"{name} is missing")
    offsets = np.load(build / "passage_offsets.npy") if current else line_offsets(build / "passages.jsonl")
    passages = PassageStore(build / "passages.jsonl", offsets)
    vectors = np.load(build / "vectors.npy", mmap_mode="r", allow_pickle=False)
    sentence_vectors = np.load(build / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
    dense = faiss.read_index(str(build / "dense.faiss"))
    if manifest.dense_index != "flat":
        faiss.extract_index_ivf(dense).nprobe = ANN_PROBES
    bm25 = Bm25Postings.read(build / "bm25")
    if current:
        counts = np.load(build / "sentence_counts.npy")
        passage_ids, article_ids = np.load(build / "passage_ids.npy"), np.load(build / "article_ids.npy")
    else:
        counts = np.array([len(p.sentences) for p in passages], dtype=np.int64)
        passage_ids = article_ids = None
    sizes = {len(passages), vectors.shape[0], dense.ntotal, manifest.passages, len(counts)}
    if len(sizes) != 1 or vectors.shape[1:] != (manifest.dimension,):
        raise ValueError(f"inconsistent sizes: passages/vectors/faiss/manifest = {sorted(sizes)}")
    if sentence_vectors.shape[0] != int(counts.sum()):
        raise ValueError("sentence vectors do not match the passages' sentences")
    return KnowledgeIndex(build, manifest, passages, vectors, sentence_vectors, counts, dense, bm25,
                          passage_ids, article_ids)


def dense_index(vectors: np.ndarray, dimension: int) -> tuple[object, str]:
    """Exact inner-product search for a corpus that a scan answers quickly; above
    ``ANN_MIN_PASSAGES`` an inverted file over 8-bit vectors (a quarter of the memory, and a
    question scans ``ANN_PROBES`` of its lists instead of every vector)."""
    import faiss

    if len(vectors) < ANN_MIN_PASSAGES:
        index = faiss.IndexFlatIP(dimension)
        if len(vectors):
            index.add(vectors)
        return index, "flat"
    lists = int(4 * np.sqrt(len(vectors)))
    kind = f"IVF{lists},SQ8"
    index = faiss.index_factory(dimension, kind, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), 64 * lists), replace=False)]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    for start in range(0, len(vectors), 100_000):
        index.add(np.ascontiguousarray(vectors[start : start + 100_000], dtype=np.float32))
    return index, kind


def write_index(
    index_dir: Path,
    manifest: Manifest,
    passages: list[Passage],
    vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    bm25_tokens: list[list[str]],
) -> Path:
    """Write a complete build beside the current one, then swap it in atomically."""
    import bm25s
    import faiss

    index_dir = Path(index_dir)
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    discard_partial_builds(index_dir)
    build_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    staging = builds / (build_id + ".partial")
    staging.mkdir()

    manifest.build_id = build_id
    manifest.built_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    np.save(staging / "passage_offsets.npy", write_passages(staging / "passages.jsonl", passages))
    np.save(staging / "sentence_counts.npy", np.array([len(p.sentences) for p in passages], dtype=np.int32))
    np.save(staging / "passage_ids.npy", np.array([p.id for p in passages], dtype="S16"))
    np.save(staging / "article_ids.npy", np.array([p.article_id for p in passages], dtype="S16"))
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, manifest.dimension)
    np.save(staging / "vectors.npy", vectors)
    np.save(
        staging / "sentence_vectors.npy",
        np.ascontiguousarray(sentence_vectors, dtype=np.float32).reshape(-1, manifest.dimension),
    )
    dense, manifest.dense_index = dense_index(vectors, manifest.dimension)
    faiss.write_index(dense, str(staging / "dense.faiss"))
    bm25 = bm25s.BM25()
    bm25.index(bm25_tokens or [[""]], show_progress=False)
    bm25.save(str(staging / "bm25"), show_progress=False)
    # the manifest goes last: a build without one is never taken for complete
    (staging / "manifest.json").write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2))
    _sync_folder(staging)

    final = builds / build_id
    os.replace(staging, final)
    link = index_dir / CURRENT
    if link.exists() and not link.is_symlink():
        raise IndexUnavailable(f"{link} is not a symlink made by this program; move it away")
    swap = index_dir / (CURRENT + ".new")
    if swap.is_symlink() or swap.exists():
        swap.unlink()
    swap.symlink_to(Path(BUILDS) / build_id)
    os.replace(swap, link)
    _remove_old_builds(index_dir, keep=final)
    return final


def discard_partial_builds(index_dir: Path) -> None:
    for leftover in (Path(index_dir) / BUILDS).glob("*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)


def _remove_old_builds(index_dir: Path, keep: Path) -> None:
    for build in (Path(index_dir) / BUILDS).iterdir():
        if build.resolve() != keep.resolve() and not build.name.endswith(".partial"):
            shutil.rmtree(build, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
