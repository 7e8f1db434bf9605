"""The index on disk: passages, their vectors (FAISS), their BM25 tokens (bm25s), a manifest.

Layout: ``INDEX_DIR/builds/<id>/`` holds one complete build; ``INDEX_DIR/current`` is a symlink
to the build in service. A new build is written in ``builds/<id>.partial`` and swapped in by
renaming the symlink, which is atomic: a build killed half-way leaves the previous one whole.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .documents import Passage

FORMAT_VERSION = 2
CURRENT = "current"
BUILDS = "builds"
FILES = ("manifest.json", "passages.jsonl", "vectors.npy", "sentence_vectors.npy", "dense.faiss")


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
    engine: str = "torch"  # what computed the vectors: torch (sentence-transformers), onnx, onnx-int8
    format_version: int = FORMAT_VERSION
    built_at: str = ""
    build_id: str = ""
    files: int = 0
    articles: int = 0
    passages: int = 0
    sentences: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass
class KnowledgeIndex:
    """One loaded build: everything retrieval needs, in memory."""

    path: Path
    manifest: Manifest
    passages: list[Passage]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_rows: np.ndarray  # first sentence-vector row of each passage
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25

    def __post_init__(self) -> None:
        self.by_id = {p.id: i for i, p in enumerate(self.passages)}
        self.by_article: dict[str, list[int]] = {}
        for i, passage in enumerate(self.passages):
            self.by_article.setdefault(passage.article_id, []).append(i)

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        start = int(self.sentence_rows[row])
        return self.sentence_vectors[start : start + len(self.passages[row].sentences)]

    def bm25_scores(self, weighted_tokens: dict[str, float] | list[str]) -> np.ndarray:
        """BM25 scores of every passage, each query token's contribution times its weight.

        Reads the token's postings straight from bm25s's sparse matrix, so a question costs
        what its tokens' postings cost, not a pass over every passage per token.
        """
        if not isinstance(weighted_tokens, dict):
            weighted_tokens = dict.fromkeys(weighted_tokens, 1.0)
        scores = np.zeros(len(self.passages), dtype=np.float32)
        matrix = self.bm25.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        for token, weight in weighted_tokens.items():
            column = self.bm25.vocab_dict.get(token) if token else None
            if column is None or column + 1 >= len(indptr) or weight <= 0:
                continue
            start, end = int(indptr[column]), int(indptr[column + 1])
            scores[indices[start:end]] += weight * data[start:end]
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
    if manifest.format_version != FORMAT_VERSION:
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
    import bm25s
    import faiss

    for name in FILES:
        if not (build / name).is_file():
            raise FileNotFoundError(f"{name} is missing")
    with (build / "passages.jsonl").open(encoding="utf-8") as lines:
        passages = [Passage.from_json(json.loads(line)) for line in lines if line.strip()]
    vectors = np.load(build / "vectors.npy", allow_pickle=False)
    sentence_vectors = np.load(build / "sentence_vectors.npy", allow_pickle=False)
    dense = faiss.read_index(str(build / "dense.faiss"))
    bm25 = bm25s.BM25.load(str(build / "bm25"), load_corpus=False, show_progress=False)
    counts = {len(passages), vectors.shape[0], dense.ntotal, manifest.passages}
    if len(counts) != 1 or vectors.shape[1:] != (manifest.dimension,):
        raise ValueError(f"inconsistent sizes: passages/vectors/faiss/manifest = {sorted(counts)}")
    lengths = np.array([len(p.sentences) for p in passages], dtype=np.int64)
    if sentence_vectors.shape[0] != int(lengths.sum()):
        raise ValueError("sentence vectors do not match the passages' sentences")
    rows = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    return KnowledgeIndex(build, manifest, passages, vectors, sentence_vectors, rows, dense, bm25)


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
    with (staging / "passages.jsonl").open("w", encoding="utf-8") as out:
        for passage in passages:
            out.write(json.dumps(passage.to_json(), ensure_ascii=False) + "\n")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, manifest.dimension)
    np.save(staging / "vectors.npy", vectors)
    np.save(
        staging / "sentence_vectors.npy",
        np.ascontiguousarray(sentence_vectors, dtype=np.float32).reshape(-1, manifest.dimension),
    )
    dense = faiss.IndexFlatIP(manifest.dimension)
    if len(vectors):
        dense.add(vectors)
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
