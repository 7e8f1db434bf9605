"""One reader per input format, behind one interface: a file on disk in, articles out.

``read_articles`` decides the format by the file's content where the content says it (PDF,
zip-based Word files, HTML), by its name otherwise, so a ``.pdf`` that is really an HTML page
is read as HTML and a renamed executable is refused instead of being fed to a parser.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from ..documents import Article
from .errors import UnreadableFile, Warn

__all__ = ["FORMATS", "Format", "UnreadableFile", "Warn", "detect_format", "read_articles", "SUFFIXES"]


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    module: str  # the reader module in this package: ``read(path, source, warn) -> list[Article]``

    def read(self, path: Path, source: str, warn: Warn) -> list[Article]:
        # imported when first needed: a corpus of Markdown pages never loads lxml, pypdf or python-docx
        return importlib.import_module(f"{__name__}.{self.module}").read(path, source, warn)


FORMATS = (
    Format("markdown", (".md", ".markdown"), "markdown_page"),
    Format("text", (".txt", ".text"), "plain_text"),
    Format("jsonl", (".jsonl", ".ndjson"), "jsonl_records"),
    Format("csv", (".csv", ".tsv"), "csv_export"),
    Format("html", (".html", ".htm", ".xhtml", ".shtml"), "html_page"),
    Format("pdf", (".pdf",), "pdf_page"),
    Format("docx", (".docx",), "docx_file"),
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
