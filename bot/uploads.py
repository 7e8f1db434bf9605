"""Admins grow the corpus from the chat: a document is checked, stored, then indexed.

A file is checked entirely before it touches the corpus folder: its size, a safe file name, its
type by content and its articles, read by the same readers the build uses (so a file the build
would skip is refused here, with the reason; .docx zip bombs included). Only then is it moved
into the corpus folder (the same name is a new version of that file, and the reply says so), and
the incremental build runs, one at a time. If the build fails, the folder is put back as it was;
the serving index is only ever replaced by a complete build.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from embeddings.build import BuildReport, build_index
from embeddings.config import IndexSettings, ReadingSettings
from embeddings.corpus import corpus_files, parse_file
from embeddings.passages import passages_of
from embeddings.readers import SUFFIXES, UnreadableFile

MAX_NAME_CHARS = 100


class UploadRejected(Exception):
    """The file was not stored; the message says why."""


@dataclass
class Change:
    name: str
    replaced: bool  # the name existed: this is a new version of that file
    articles: int  # in the file (0 when removed)
    passages: int
    report: BuildReport


def safe_name(original: str) -> str:
    """A plain file name inside the corpus folder: no folders, no hidden files, no control
    characters; letters (any script), digits, ``-``, ``_`` and ``.`` only."""
    name = unicodedata.normalize("NFKC", original or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[^\w.\-]+", "_", name, flags=re.UNICODE).strip("._")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem:
        raise UploadRejected(f"“{original}” has no file type; send .md, .txt, .html, .pdf, .docx, .csv or .jsonl")
    if "." + suffix.lower() not in SUFFIXES:
        raise UploadRejected(f"“{original}”: .{suffix} is not a format the corpus reads ({', '.join(sorted(SUFFIXES))})")
    return stem[: MAX_NAME_CHARS - len(suffix) - 1] + "." + suffix.lower()


class CorpusFolder:
    """The corpus folder as admins change it from the chat; one change (and build) at a time."""

    def __init__(self, settings: IndexSettings, encoder=None, max_bytes: int = 20 * 1024 * 1024):
        self.settings = settings
        self.folder = Path(settings.corpus_dir)
        self.encoder = encoder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def sources(self) -> list[tuple[str, int]]:
        return [(p.relative_to(self.folder).as_posix(), p.stat().st_size) for p in corpus_files(self.folder)]

    def add(self, upload: Path, original_name: str) -> Change:
        name = safe_name(original_name)
        size = upload.stat().st_size
        if size > self.max_bytes:
            raise UploadRejected(f"{name} is {size / 2**20:.1f} MB; the limit is {self.max_bytes / 2**20:.0f} MB")
        reading = replace(ReadingSettings.from_env(), max_file_bytes=self.max_bytes)
        with tempfile.TemporaryDirectory(prefix="newsqa-upload-") as staging:
            staged = Path(staging) / name  # read under its own name: plain-text types go by it
            shutil.copyfile(upload, staged)
            try:
                articles = parse_file(staged, name, reading)
            except UnreadableFile as problem:
                raise UploadRejected(f"{name} was not added: {problem}") from None
        passages = len(passages_of(articles, reading.passage_max_chars))
        with self._lock:
            target = self.folder / name
            replaced = target.exists()
            backup = self._set_aside(target)
            shutil.copyfile(upload, target)
            try:
                report = self._build()
            except Exception:
                target.unlink(missing_ok=True)
                self._restore(backup, target)
                raise
            self._drop(backup)
        return Change(name, replaced, len(articles), passages, report)

    def remove(self, name: str) -> Change:
        with self._lock:
            target = self.folder / safe_name(name)
            if not target.is_file() or target.parent != self.folder:
                raise UploadRejected(f"no file {name} in the corpus; /sources lists them")
            backup = self._set_aside(target)
            try:
                report = self._build()
            except Exception:
                self._restore(backup, target)
                raise
            self._drop(backup)
        return Change(target.name, True, 0, 0, report)

    def _build(self) -> BuildReport:
        return build_index(self.settings, progress=False, encoder=self.encoder)

    def _set_aside(self, target: Path) -> Path | None:
        if not target.exists():
            return None
        keep = Path(tempfile.mkdtemp(prefix="newsqa-previous-")) / target.name
        shutil.move(target, keep)
        return keep

    @staticmethod
    def _restore(backup: Path | None, target: Path) -> None:
        if backup is not None:
            shutil.move(backup, target)
            shutil.rmtree(backup.parent, ignore_errors=True)

    @staticmethod
    def _drop(backup: Path | None) -> None:
        if backup is not None:
            shutil.rmtree(backup.parent, ignore_errors=True)


def build_encoder(query_encoder):
    """The bot's own encoder serves its builds when its vectors are the build's (sentence-
    transformers, or the float32 ONNX export); with int8 a build loads sentence-transformers."""
    from embeddings.encoder import Encoder
    from embeddings.onnx_encoder import OnnxEncoder

    if isinstance(query_encoder, Encoder) or (isinstance(query_encoder, OnnxEncoder) and query_encoder.engine == "onnx"):
        return query_encoder
    return None
