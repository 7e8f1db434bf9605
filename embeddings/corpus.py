"""Read the corpus folder: every file through the reader for its format, then into passages.

A file that fails is skipped with a warning that names it and says why; nothing else is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from .config import ReadingSettings
from .documents import Article, Passage
from .passages import passages_of
from .readers import SUFFIXES, UnreadableFile, read_articles
from .repairs import drop_duplicate_paragraphs

log = logging.getLogger(__name__)


@dataclass
class CorpusParse:
    articles: list[Article] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def corpus_files(corpus_dir: Path) -> list[Path]:
    """The files a build reads: every known format below the folder, hidden ones excepted."""
    corpus_dir = Path(corpus_dir)
    return sorted(
        path for path in corpus_dir.rglob("*")
        if path.is_file() and path.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(corpus_dir).parts)
    )


def parse_corpus(corpus_dir: Path, reading: ReadingSettings | None = None) -> CorpusParse:
    """Every readable file below ``corpus_dir``; unreadable ones are skipped with a warning."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"corpus folder {corpus_dir} does not exist: set CORPUS_DIR or pass --corpus"
        )
    reading = reading or ReadingSettings.from_env()
    result = CorpusParse()
    for path in corpus_files(corpus_dir):
        source = path.relative_to(corpus_dir).as_posix()
        try:
            articles = parse_file(path, source, reading, warn=result.skipped.append)
        except UnreadableFile as problem:
            message = f"skipped {path}: {problem}"
            log.warning(message)
            result.skipped.append(message)
            continue
        result.files.append(source)
        result.articles.extend(articles)
        result.passages.extend(passages_of(articles, reading.passage_max_chars))
    return result


def parse_file(path: Path, source: str, reading: ReadingSettings, warn=lambda message: None) -> list[Article]:
    size = path.stat().st_size
    if size > reading.max_file_bytes:
        raise UnreadableFile(
            f"{size / 2**20:.0f} MB is over the {reading.max_file_bytes / 2**20:.0f} MB limit per file; "
            "split it, or raise CORPUS_MAX_FILE_MB"
        )
    try:
        articles = read_articles(path, source, warn)
    except OSError as error:
        raise UnreadableFile(f"cannot be read ({error.strerror or error})") from None
    drop_duplicate_paragraphs(articles)
    return articles
