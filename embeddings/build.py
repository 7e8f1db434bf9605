"""Build or update the index: ``python -m embeddings.build [--corpus DIR] [--index DIR] [--full]``.

Incremental: vectors are reused by text, so only new or edited passages are encoded, and when
nothing changed the encoder is not even loaded.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import resource
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import lexical
from .build_lock import BuildRunning, build_lock
from .config import IndexSettings
from .documents import Passage, stable_id
from .encoder import Encoder, EncoderError
from .index_store import (
    FORMAT_VERSION, IndexUnavailable, KnowledgeIndex, Manifest, current_build, load_index, model_change,
    write_index,
)
from .logs import configure_logging
from .corpus import corpus_files, parse_corpus
from .readers import SUFFIXES
from .text import to_simplified

log = logging.getLogger("embeddings.build")


@dataclass
class BuildReport:
    files: int
    articles: int
    passages: int
    sentences: int
    added: int
    changed: int
    removed: int
    encoded: int
    seconds: float
    peak_memory_mb: float
    index_path: Path | str | None  # a build folder, or a Milvus collection
    up_to_date: bool
    full_reason: str = ""
    skipped: tuple[str, ...] = ()

    def summary(self) -> str:
        state = "up to date, nothing written" if self.up_to_date else f"written to {self.index_path}"
        return (
            f"{self.files} files, {self.articles} articles, {self.passages} passages "
            f"({self.sentences} sentences): {self.added} added, {self.changed} changed, "
            f"{self.removed} removed; {self.encoded} texts encoded in {self.seconds:.2f} s; "
            f"peak memory {self.peak_memory_mb:.0f} MB; {state}"
        )


def corpus_fingerprint(corpus_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in corpus_files(corpus_dir):
        digest.update(path.relative_to(corpus_dir).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def sentence_texts(passage: Passage) -> list[str]:
    return [passage.text[start:end] for start, end in passage.sentences]


def _previous(index_dir: Path) -> tuple[KnowledgeIndex | None, str]:
    if current_build(index_dir) is None:
        return None, "no previous index"
    try:
        return load_index(index_dir), ""
    except IndexUnavailable as problem:
        log.warning("previous index unusable, building from nothing: %s", problem)
        return None, "the previous index is damaged"


def _vector_cache(previous: KnowledgeIndex) -> dict[str, np.ndarray]:
    cache: dict[str, np.ndarray] = {}
    for row, passage in enumerate(previous.passages):
        cache[stable_id(passage.text)] = previous.vectors[row]
        for text, vector in zip(sentence_texts(passage), previous.sentence_vectors_of(row)):
            cache[stable_id(text)] = vector
    return cache


def _diff(old: list[Passage], new: list[Passage]) -> tuple[int, int, int]:
    old_ids, new_ids = {p.id for p in old}, {p.id for p in new}
    added = [p for p in new if p.id not in old_ids]
    removed = [p for p in old if p.id not in new_ids]
    slots = {(p.source, p.title, p.ordinal) for p in removed}
    changed = sum(1 for p in added if (p.source, p.title, p.ordinal) in slots)
    return len(added) - changed, changed, len(removed) - changed


def build_index(
    settings: IndexSettings, full: bool = False, progress: bool = True,
    encoder: Encoder | None = None, wait: bool = True,
) -> BuildReport:
    """Build under the index folder's lock: a concurrent build waits for this one (or, with
    ``wait=False``, this one raises ``BuildRunning``)."""
    with build_lock(settings.index_dir, wait=wait):
        return _build(settings, full, progress, encoder)


def _build(settings: IndexSettings, full: bool, progress: bool, encoder: Encoder | None) -> BuildReport:
    started = time.perf_counter()
    parsed = parse_corpus(settings.corpus_dir)
    if not parsed.passages:
        skipped = "; ".join(parsed.skipped) or f"no {', '.join(sorted(SUFFIXES))} files"
        raise FileNotFoundError(
            f"no readable articles in {settings.corpus_dir} ({skipped}): add articles or set CORPUS_DIR"
        )
    manifest = Manifest(
        model=settings.model, dimension=0, corpus_fingerprint=corpus_fingerprint(settings.corpus_dir),
        query_prompt=settings.query_prompt, passage_prompt=settings.passage_prompt,
        files=len(parsed.files), articles=len(parsed.articles), passages=len(parsed.passages),
        sentences=sum(len(p.sentences) for p in parsed.passages), skipped=list(parsed.skipped),
    )

    def report(**fields) -> BuildReport:
        return BuildReport(
            files=manifest.files, articles=manifest.articles, passages=manifest.passages,
            sentences=manifest.sentences, seconds=time.perf_counter() - started,
            peak_memory_mb=_peak_memory_mb(), skipped=tuple(parsed.skipped), **fields,
        )

    def encode(texts: list[str]) -> tuple[np.ndarray, int]:
        """Loads the encoder only when some text is new; traditional-Chinese sources are
        encoded as simplified text, as questions are asked."""
        model = encoder or Encoder(settings)
        simplified = [to_simplified(text) for text in texts]
        return np.asarray(model.encode_passages(simplified, progress=progress), dtype=np.float32), model.dimension

    if settings.backend == "milvus":
        from .milvus_build import update_collection

        update = update_collection(settings, parsed.passages, manifest, full, encode, progress)
        return report(added=update.added, changed=update.changed, removed=update.removed, encoded=update.encoded,
                      index_path=update.location, up_to_date=update.up_to_date, full_reason=update.full_reason)

    previous, full_reason = (None, "--full") if full else _previous(settings.index_dir)
    same_model = previous is not None and not model_change(previous.manifest, manifest)
    if previous is not None and not same_model:
        full_reason = model_change(previous.manifest, manifest)
        log.warning(full_reason)
    old_passages = previous.passages if previous is not None else []
    added, changed, removed = _diff(old_passages, parsed.passages)
    counts = {"added": added, "changed": changed, "removed": removed, "full_reason": full_reason}

    unchanged = [p.id for p in old_passages] == [p.id for p in parsed.passages] and [
        p.to_json() for p in old_passages
    ] == [p.to_json() for p in parsed.passages]
    if (
        same_model and unchanged and previous.manifest.corpus_fingerprint == manifest.corpus_fingerprint
        and previous.manifest.format_version == FORMAT_VERSION
    ):
        return report(encoded=0, index_path=previous.path, up_to_date=True, **counts)

    cache = _vector_cache(previous) if same_model else {}
    wanted = [p.text for p in parsed.passages] + [
        text for p in parsed.passages for text in sentence_texts(p)
    ]
    missing = list(dict.fromkeys(t for t in wanted if stable_id(t) not in cache))
    if missing or encoder is not None:
        vectors, manifest.dimension = encode(missing)
        cache.update((stable_id(text), vector) for text, vector in zip(missing, vectors))
    else:
        manifest.dimension = previous.manifest.dimension

    def stack(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, manifest.dimension), dtype=np.float32)
        return np.vstack([cache[stable_id(t)] for t in texts]).astype(np.float32)

    path = write_index(
        settings.index_dir, manifest, parsed.passages,
        stack([p.text for p in parsed.passages]),
        stack([t for p in parsed.passages for t in sentence_texts(p)]),
        [lexical.tokens(p.title + " " + p.text) for p in parsed.passages],
    )
    return report(encoded=len(missing), index_path=path, up_to_date=False, **counts)


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embeddings.build", description=__doc__)
    parser.add_argument("--corpus", type=Path, help="corpus folder (default: CORPUS_DIR or corpus/)")
    parser.add_argument("--index", type=Path, help="index folder (default: INDEX_DIR or index/)")
    parser.add_argument("--full", action="store_true", help="re-encode every passage")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--no-wait", action="store_true", help="fail at once if another build of the index is running",
    )
    args = parser.parse_args(argv)
    configure_logging()
    try:
        settings = IndexSettings.from_env()
    except ValueError as error:  # a setting in .env or the environment that makes no sense
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings = replace(
        settings,
        corpus_dir=args.corpus or settings.corpus_dir,
        index_dir=args.index or settings.index_dir,
    )
    try:
        result = build_index(settings, full=args.full, progress=not args.quiet, wait=not args.no_wait)
    except (FileNotFoundError, EncoderError, IndexUnavailable, BuildRunning, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in result.skipped:
        print(f"warning: {warning}", file=sys.stderr)
    if result.full_reason and result.full_reason != "no previous index":
        print(f"full build: {result.full_reason}")
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
