"""Saved web pages and e-paper HTML: the main text and its metadata, found by trafilatura.

Navigation, footers and adverts are left out by trafilatura; its Markdown output keeps the
article's headings (sections) and tables (one row per paragraph). The charset the page declares
is honoured, and detected when it is missing (GBK pages are common in Chinese archives).
"""

from __future__ import annotations

import html as html_entities
import re
from pathlib import Path

from ..documents import Article
from .decoding import declared_charset, decode
from .errors import UnreadableFile, Warn
from .markdown_page import parse_page
from .plain_text import title_from_name

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
_META_AUTHOR = re.compile(
    r"""<meta[^>]+name\s*=\s*["'](?:author|byline|dc\.creator)["'][^>]*content\s*=\s*["']([^"']+)""", re.I
)


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    data = path.read_bytes()
    return parse_html(decode(data, declared_charset(data)), source, title_from_name(path))


def parse_html(page: str, source: str, fallback_title: str) -> list[Article]:
    import trafilatura

    page = re.sub(r"\A\s*<\?xml[^>]*\?>", "", page)  # lxml refuses a declaration in a str
    extracted = trafilatura.extract(
        page, output_format="markdown", with_metadata=True, include_formatting=True,
        include_tables=True, include_comments=False, favor_recall=True,
    )
    if not extracted:
        extracted = trafilatura.html2txt(page) or ""
    metadata, body = front_matter(extracted)
    if not body.strip():
        raise UnreadableFile("no main text found in the page")
    title = metadata.get("title") or fallback_title
    article_markdown = f"# {title}\n\n{_as_sections(body, title)}"
    articles = parse_page(article_markdown, source)
    author = metadata.get("author") or _meta_author(page)
    for article in articles:
        article.date = metadata.get("date", "")
        article.url = metadata.get("url", "")
        article.byline = article.byline or author
    return articles


def front_matter(extracted: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(extracted)
    if not match:
        return {}, extracted
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        value = value.strip().strip('"').strip("'")
        if key.strip() and value:
            fields[key.strip()] = value
    return fields, extracted[match.end():]


def _as_sections(body: str, title: str) -> str:
    """The page title is the article; every heading inside the text is a section of it."""
    def demote(match: re.Match) -> str:
        text = match.group(2).strip()
        return "" if text == title else f"### {text}"

    return _HEADING.sub(demote, body)


def _meta_author(page: str) -> str:
    match = _META_AUTHOR.search(page[:20_000])
    return html_entities.unescape(match.group(1)).strip() if match else ""
