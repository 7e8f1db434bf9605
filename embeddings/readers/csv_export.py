"""CSV (and TSV) exports of a CMS: one article per row.

Columns are found by their header: ``title``/``headline``/``标题``, ``text``/``content``/
``body``/``正文``/``内容``, ``date``/``日期``/``发布时间``, ``url``/``link``/``链接``,
``author``/``byline``/``作者``/``记者``, ``section``/``栏目``/``版面``. ``CSV_COLUMNS`` maps other
headers, e.g. ``CSV_COLUMNS=title=Headline,text=Body Text,date=Published``. The delimiter
(comma, semicolon, tab, pipe) is detected; the encoding as for every text file.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from pathlib import Path

from ..config import csv_column_mapping
from ..documents import Article
from .decoding import decode
from .errors import UnreadableFile, Warn
from .records import FIELDS, article_from_record

log = logging.getLogger(__name__)

ALIASES = {
    "title": ("title", "headline", "heading", "标题", "题目", "新闻标题"),
    "text": ("text", "content", "body", "article", "正文", "内容", "全文", "新闻内容"),
    "date": ("date", "published", "pubdate", "publish_date", "time", "日期", "发布时间", "时间", "发布日期"),
    "url": ("url", "link", "href", "链接", "网址", "原文链接"),
    "author": ("author", "byline", "authors", "作者", "记者", "来源作者"),
    "section": ("section", "category", "channel", "栏目", "版面", "频道", "分类"),
}


def columns_for(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Which column holds each field: ``mapping`` (from ``CSV_COLUMNS``) first, then the aliases."""
    folded = [name.strip().lstrip("\ufeff").lower() for name in header]
    found: dict[str, int] = {}
    for field in FIELDS:
        wanted = [mapping[field].strip().lower()] if field in mapping else list(ALIASES[field])
        for name in wanted:
            if name in folded:
                found[field] = folded.index(name)
                break
    return found


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    text = decode(path.read_bytes())
    sample = text[:20_000]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows = csv.reader(io.StringIO(text), dialect)
    header = next(rows, None)
    if not header:
        raise UnreadableFile("the CSV file has no header row")
    mapping = csv_column_mapping()
    columns = columns_for(header, mapping)
    missing = [field for field in ("title", "text") if field not in columns]
    if missing:
        raise UnreadableFile(
            f"no {' or '.join(missing)} column among {header[:12]}; name the columns with "
            "CSV_COLUMNS, e.g. CSV_COLUMNS=title=Headline,text=Body"
        )
    articles = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        record = {field: row[at] if at < len(row) else "" for field, at in columns.items()}
        if not record["text"].strip():
            message = f"skipped {source}:{number}: the row has no text"
            log.warning(message)
            warn(message)
            continue
        articles.append(article_from_record(record, source))
    return articles
