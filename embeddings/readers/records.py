"""Article records (JSONL lines, CSV rows): a title, a text, and optional metadata fields."""

from __future__ import annotations

import re

from ..documents import Article, Paragraph
from ..repairs import repair_paragraphs

FIELDS = ("title", "text", "date", "url", "author", "section")


def article_from_record(record: dict, source: str) -> Article:
    """``record`` maps the names of ``FIELDS`` to values; title and text must be strings."""
    title, body = record.get("title"), record.get("text")
    if not isinstance(title, str) or not isinstance(body, str):
        raise TypeError("title and text must be strings")
    article = Article(
        title=title.strip(), source=source,
        byline=str(record.get("author") or "").strip(), date=str(record.get("date") or "").strip(),
        url=str(record.get("url") or "").strip(),
    )
    section = str(record.get("section") or "").strip()
    for block in re.split(r"\n", body.replace("\r\n", "\n").replace("\r", "\n")):
        block = block.strip().lstrip("\u3000")
        if block:
            article.paragraphs.append(Paragraph(block, section))
    article.paragraphs = repair_paragraphs(article.paragraphs)
    if not article.title and article.paragraphs:
        article.title = article.paragraphs[0].text[:40]
    return article
