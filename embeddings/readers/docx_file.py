"""Word ``.docx`` files through python-docx: paragraphs and tables in reading order.

The ``Title`` style (or the document's title property, or the first heading) titles the
article; ``Heading`` styles name sections; each table becomes one paragraph, a row per line
with its cells joined by `` | `` (merged cells counted once).
"""

from __future__ import annotations

from pathlib import Path

from ..documents import Article, Paragraph
from ..repairs import repair_paragraphs
from .errors import UnreadableFile, Warn
from .markdown_page import is_byline, is_caption
from .plain_text import title_from_name
from .zip_safety import check_zip


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    check_zip(path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as error:
        raise UnreadableFile(f"not a readable Word document ({error})") from None
    properties = document.core_properties
    article = Article(title=(properties.title or "").strip(), source=source,
                      byline=(properties.author or "").strip())
    # no date: ``created`` is when the file (or its template) was made, not the publication date
    section = ""
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):
            rows = table_rows(block)
            if rows:
                article.paragraphs.append(Paragraph("\n".join(rows), section, table=True))
            continue
        text = " ".join(block.text.split())
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        if style == "Title" or (style.startswith("Heading") and not article.title):
            article.title = article.title or text
            if style != "Title" and article.title != text:
                section = text
        elif style == "Subtitle":
            article.subtitle = article.subtitle or text
        elif style.startswith("Heading"):
            section = text
        elif is_byline(text):
            article.byline = text
        elif is_caption(text):
            article.captions.append(text)
        else:
            article.paragraphs.append(Paragraph(text, section))
    article.title = article.title or title_from_name(path)
    article.paragraphs = repair_paragraphs(article.paragraphs)
    return [article]


def table_rows(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(cell.text.split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows
