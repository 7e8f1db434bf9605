"""One reader per input format, behind one interface: a file on disk in, articles out.

``read_articles`` decides the format by the file's content where the content says it (PDF,
zip-based Word files, HTML), by its name otherwise, so a ``.pdf`` that is really an HTML page
is read as HTML and a renamed executable is refused instead of being fed to a parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..documents import Article
from .errors import UnreadableFile, Warn

__all__ = ["FORMATS", "Format", "UnreadableFile", "Warn", "detect_format", "read_articles", "SUFFIXES"]


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, str, Warn], list[Article]]


def _markdown(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import markdown_page

    return markdown_page.read(path, source, warn)


def _plain_text(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import plain_text

    return plain_text.read(path, source, warn)


def _jsonl(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import jsonl_records

    return jsonl_records.read(path, source, warn)


def _csv(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import csv_export

    return csv_export.read(path, source, warn)


def _html(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import html_page

    return html_page.read(path, source, warn)


def _pdf(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import pdf_page

    return pdf_page.read(path, source, warn)


def _docx(path: Path, source: str, warn: Warn) -> list[Article]:
    from . import docx_file

    return docx_file.read(path, source, warn)


# Imported lazily: a corpus of Markdown pages never loads lxml, pypdf or python-docx.
FORMATS = (
    Format("markdown", (".md", ".markdown"), _markdown),
    Format("text", (".txt", ".text"), _plain_text),
    Format("jsonl", (".jsonl", ".ndjson"), _jsonl),
    Format("csv", (".csv", ".tsv"), _csv),
    Format("html", (".html", ".htm", ".xhtml", ".shtml"), _html),
    Format("pdf", (".pdf",), _pdf),
    Format("docx", (".docx",), _docx),
)
SUFFIXES = frozenset(suffix for kind in FORMATS for suffix in kind.suffixes)
_BY_NAME = {kind.name: kind for kind in FORMATS}
_BY_SUFFIX = {suffix: kind for kind in FORMATS for suffix in kind.suffixes}


def detect_format(path: Path, head: bytes) -> Format:
    """The format of a file from its first bytes, falling back to its name for plain text."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%PDF-"):
        return _BY_NAME["pdf"]
    if head.startswith(b"PK\x03\x04"):
        if path.suffix.lower() == ".docx" or b"word/" in head:
            return _BY_NAME["docx"]
        raise UnreadableFile("a zip archive that is not a Word (.docx) file; unpack it into the corpus folder")
    if head.startswith((b"\xd0\xcf\x11\xe0", b"{\\rtf")):
        raise UnreadableFile("an old Word (.doc) or RTF file; save it as .docx")
    if path.suffix.lower() not in {".md", ".markdown", ".txt", ".text"} and (
        stripped.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in stripped[:1024]
    ):
        return _BY_NAME["html"]
    kind = _BY_SUFFIX.get(path.suffix.lower())
    if kind is None:
        raise UnreadableFile(f"not a format the corpus reads ({', '.join(sorted(SUFFIXES))})")
    if kind.name in {"pdf", "docx"}:
        raise UnreadableFile(f"named {path.suffix} but its content is not a {kind.name.upper()} file")
    return kind


def read_articles(path: Path, source: str, warn: Warn = lambda message: None) -> list[Article]:
    """The articles of one file; ``UnreadableFile`` says why there are none."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        raise UnreadableFile("the file is empty")
    articles = [a for a in detect_format(path, head).read(path, source, warn) if a.paragraphs]
    if not articles:
        raise UnreadableFile("no article text found in it")
    return articles
