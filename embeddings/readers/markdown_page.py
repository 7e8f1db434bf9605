"""Markdown pages: several articles per file, with bylines, photo captions and column labels.

``#`` starts an article, a ``##`` straight below it is its subtitle and elsewhere starts the
next short article, ``###`` names a section (or, above a ``##``, a column of the page).
Table rows are paragraphs of their own.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..documents import Article, Paragraph
from ..repairs import join_lines, repair_paragraphs
from .decoding import decode
from .errors import Warn

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_TABLE_ROW = re.compile(r"^\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\|?[\s:|-]*-[\s:|-]*\|?$")
_NAME = r"[\u4e00-\u9fff·]{2,4}"
_REPORTER = r"(?:本报记者|本报通讯员|特约记者|通讯员|记者|实习生|编辑|撰稿)"
_BYLINE = re.compile(
    rf"^(?:{_NAME}\s+)*(?:{_REPORTER}\s*(?:{_NAME}\s*)+)+(?:摄|摄影|报道)?$"
)
_PHOTO_CREDIT = re.compile(rf"\s*{_NAME}\s*摄(?:影)?$")
_LATIN_LABEL = re.compile(r"\s+[A-Z][A-Z ]*$")
MAX_CAPTION_CHARS = 120
TABLE_MARK = "\x00table\x00"  # marks a block that is a table row (no text holds a NUL)


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    text = decode(path.read_bytes())
    from .plain_text import has_headings, parse_text, title_from_name

    if not has_headings(text):
        return parse_text(text, source, title_from_name(path))
    return parse_page(text, source)


def blocks(text: str) -> list[str]:
    """Blank-line separated blocks; every heading line and every table row is a block of its own."""
    found: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            found.append(join_lines(current))
            current.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif _HEADING.match(line):
            flush()
            found.append(line)
        elif _TABLE_ROW.match(line):
            flush()
            if not _TABLE_RULE.match(line):
                found.append(TABLE_MARK + table_row(line))
        else:
            current.append(line)
    flush()
    return found


def table_row(line: str) -> str:
    cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
    return " | ".join(cell for cell in cells if cell)


def add_table_row(article: Article, row: str, section: str) -> None:
    """Consecutive rows make one paragraph, a row per line (each line is a sentence)."""
    last = article.paragraphs[-1] if article.paragraphs else None
    if last is not None and last.table and last.section == section:
        last.text += "\n" + row
    else:
        article.paragraphs.append(Paragraph(row, section, table=True))


def clean_inline(text: str) -> str:
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", text)).strip()


def is_byline(text: str) -> bool:
    return len(text) <= 40 and bool(_BYLINE.match(text))


def is_caption(text: str) -> bool:
    return len(text) <= MAX_CAPTION_CHARS and bool(_PHOTO_CREDIT.search(text))


def parse_page(text: str, source: str, untitled: str = "") -> list[Article]:
    """The articles of a page; text before any heading belongs to an article titled ``untitled``
    (or by its first paragraph when that is empty)."""
    page = blocks(text)
    headings = [_HEADING.match(b) for b in page]
    articles: list[Article] = []
    current: Article | None = None
    accepts_subtitle = False
    section = column = ""

    def start(title: str) -> Article:
        article = Article(title=title, source=source, column=column)
        articles.append(article)
        return article

    for index, block in enumerate(page):
        heading = headings[index]
        if heading:
            level, title = len(heading.group(1)), clean_inline(heading.group(2))
            if level == 1:
                column = section = ""
                current, accepts_subtitle = start(title), True
            elif level == 2:
                if current is not None and accepts_subtitle and not current.subtitle:
                    current.subtitle = title.lstrip("—-— ")
                else:
                    section = ""
                    current = start(title)
                accepts_subtitle = False
            else:
                following = headings[index + 1] if index + 1 < len(headings) else None
                if following and len(following.group(1)) == 2:
                    # a label straight above a short-article title names a column of the page
                    column = _LATIN_LABEL.sub("", title)
                else:
                    section = title
                    if current is None:
                        current = start(untitled or title)
                accepts_subtitle = False
            continue
        if _IMAGE.match(block):
            continue
        row = block.startswith(TABLE_MARK)
        paragraph = clean_inline(block.removeprefix(TABLE_MARK))
        if not paragraph:
            continue
        if current is None:
            current = start(untitled or paragraph[:40])
        if row:
            add_table_row(current, paragraph, section or current.column)
        elif is_byline(paragraph):
            current.byline = current.byline or paragraph
        elif is_caption(paragraph):
            current.captions.append(paragraph)
        else:
            current.paragraphs.append(Paragraph(paragraph, section or current.column))
            accepts_subtitle = False
    for article in articles:
        article.paragraphs = repair_paragraphs(article.paragraphs)
    return articles
