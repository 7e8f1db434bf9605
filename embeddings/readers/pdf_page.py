"""PDF pages (e-paper pages, reports) through pypdf, with the repairs a laid-out page needs.

pypdf gives lines in reading order. Lines repeated at the top or bottom of most pages (running
heads, footers) and page numbers are dropped; lines are joined into paragraphs (a paragraph
starts at an indented line, or after a short line that ends a sentence), also across columns and
pages; short unpunctuated lines standing alone are the title and section headings. One PDF is
one article; its title comes from the document's metadata or its first heading.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..documents import Article, Paragraph
from ..repairs import join_lines, repair_paragraphs
from ..text import ends_sentence, is_cjk
from .errors import UnreadableFile, Warn
from .markdown_page import is_byline, is_caption
from .plain_text import title_from_name

log = logging.getLogger(__name__)

_PAGE_NUMBER = re.compile(
    r"^[-–—\s]*(?:第\s*\d+\s*[页版]|page\s+\d+(?:\s+of\s+\d+)?|\d+\s*/\s*\d+|\d{1,4})[-–—\s]*$", re.I
)
_EDGE_LINES = 2  # how many lines at the top and at the bottom of a page can be running heads
_FULL_LINE = 0.8  # a line at least this share of the usual width ran to the margin
_SHORT_LINE = 0.6  # a line under this share of the usual width can be a heading


@dataclass
class Line:
    text: str
    indented: bool = False
    gap_before: bool = False  # an empty line (or one holding only indentation) came before it


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFile("the PDF is password-protected; save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str((reader.metadata or {}).get("/Title") or "").strip()
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise UnreadableFile(f"not a readable PDF ({error})") from None
    if not any(page.strip() for page in pages):
        raise UnreadableFile("the PDF holds no text (a scanned image? run OCR on it first)")
    return [article_from_pages(pages, source, _useful_title(title) or "", title_from_name(path))]


def _useful_title(title: str) -> str:
    """Office tools write titles like ``Microsoft Word - draft3.docx``: not a title."""
    if not title or re.match(r"^(microsoft \w+ - |untitled)", title, re.I) or re.search(r"\.\w{2,4}$", title):
        return ""
    return title


def page_lines(pages: list[str]) -> list[list[Line]]:
    """Each page's lines, with running heads, footers and page numbers gone."""
    raw = [[line for line in page.splitlines()] for page in pages]
    edges = Counter()
    for lines in raw:
        content = [line.strip() for line in lines if line.strip()]
        for line in set(content[:_EDGE_LINES] + content[-_EDGE_LINES:]):
            edges[_shape(line)] += 1
    repeated = {shape for shape, count in edges.items() if len(pages) > 1 and count >= max(2, len(pages) / 2)}
    cleaned = []
    for lines in raw:
        content_positions = [i for i, line in enumerate(lines) if line.strip()]
        edge = set(content_positions[:_EDGE_LINES] + content_positions[-_EDGE_LINES:])
        kept: list[Line] = []
        gap = False
        for i, line in enumerate(lines):
            text = line.strip().strip("\u3000").strip()
            if not text:
                gap = True
                continue
            if i in edge and (_shape(line.strip()) in repeated or _PAGE_NUMBER.match(text)):
                continue
            indented = line[:1].isspace() or line.startswith("\u3000")
            kept.append(Line(text, indented, gap))
            gap = False
        cleaned.append(kept)
    return cleaned


def _shape(line: str) -> str:
    """Running heads differ only in their numbers (page, date): compare them without."""
    return re.sub(r"\d+", "0", re.sub(r"\s+", "", line))


def _width(text: str) -> float:
    return sum(1.0 if is_cjk(c) or ord(c) > 0x2e80 else 0.5 for c in text)


def article_from_pages(pages: list[str], source: str, title: str, fallback_title: str) -> Article:
    lines = [line for page in page_lines(pages) for line in page]
    widths = sorted(_width(line.text) for line in lines)
    usual = widths[int(0.8 * (len(widths) - 1))] if widths else 0.0
    blocks: list[list[Line]] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else None
        current = blocks[-1] if blocks else None
        open_sentence = current is not None and not ends_sentence(current[-1].text) and not _closed(current, usual)
        if current is None or line.indented or line.gap_before or _closed(current, usual) or (
            not open_sentence and _heading(line, following, usual)
        ):
            blocks.append([line])
        else:
            current.append(line)
    article = Article(title=title, source=source)
    section = ""
    for block in blocks:
        text = join_lines([line.text for line in block])
        if len(block) == 1 and _heading(block[0], None, usual):
            if not article.title:
                article.title = text
            elif is_byline(text):
                article.byline = article.byline or text
            elif not article.paragraphs and not article.subtitle and text != article.title:
                article.subtitle = text
            else:
                section = text
            continue
        if is_byline(text):
            article.byline = article.byline or text
        elif is_caption(text):
            article.captions.append(text)
        else:
            article.paragraphs.append(Paragraph(text, section))
    article.title = article.title or fallback_title
    article.paragraphs = repair_paragraphs(article.paragraphs)
    return article


def _closed(block: list[Line], usual: float) -> bool:
    """A block ends at a short line that ends a sentence, or at a lone heading-like line."""
    last = block[-1].text
    short = _width(last) < _FULL_LINE * usual
    if short and ends_sentence(last):
        return True
    return len(block) == 1 and short and not ends_sentence(last)


def _heading(line: Line, following: Line | None, usual: float) -> bool:
    """Short, unpunctuated, and followed by the start of something (or nothing)."""
    text = line.text
    if _width(text) >= _SHORT_LINE * usual or ends_sentence(text) or text[-1] in "，,、：:；;":
        return False
    return following is None or following.indented or following.gap_before or (
        _width(following.text) < _SHORT_LINE * usual and not ends_sentence(following.text)
    ) or _width(following.text) >= _FULL_LINE * usual
