"""Plain text: one article per file. The first line is its title when it looks like one
(short, not a sentence); otherwise the article is titled from the file name, so a file that is
one line of text is still an article.

Every line is a paragraph unless it was cut mid-sentence (hard-wrapped text), in which case the
repairs join it to the next.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..documents import Article, Paragraph
from ..repairs import repair_paragraphs
from ..text import SENTENCE_END
from .decoding import decode
from .errors import Warn
from .markdown_page import clean_inline, is_byline

MAX_TITLE_CHARS = 60


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    text = decode(path.read_bytes())
    if has_headings(text):  # a page saved as text with Markdown headings is read as one
        from .markdown_page import parse_page

        return parse_page(text, source)
    return parse_text(text, source, title_from_name(path))


def has_headings(text: str) -> bool:
    return bool(re.search(r"^#{1,6}\s+\S", text, re.M))


def title_from_name(path: Path) -> str:
    return re.sub(r"[_\s]+", " ", Path(path).stem).strip() or Path(path).name


def looks_like_title(line: str) -> bool:
    return 0 < len(line) <= MAX_TITLE_CHARS and line.rstrip()[-1] not in SENTENCE_END + "，,：:"


def parse_text(text: str, source: str, fallback_title: str) -> list[Article]:
    """Blank lines always end a paragraph; inside a block, a line that ends a sentence does too."""
    lines = [clean_inline(line.strip().lstrip("\u3000")) for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        return []
    title = fallback_title
    rest = [line for line in lines[1:] if line]
    if rest and looks_like_title(lines[0]):
        title, lines = lines[0], lines[1:]
    article = Article(title=title[:120], source=source)
    block: list[Paragraph] = []
    for line in lines + [""]:
        if line and is_byline(line) and not article.byline:
            article.byline = line
        elif line:
            block.append(Paragraph(line))
        elif block:
            article.paragraphs.extend(repair_paragraphs(block))
            block = []
    article.paragraphs = repair_paragraphs(article.paragraphs)
    return [article]
