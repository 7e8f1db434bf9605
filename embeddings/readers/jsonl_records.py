"""JSONL archives: one article per line, ``{"title", "text"}`` plus optional ``date``, ``url``,
``author``, ``section``. A bad line is skipped with a warning naming it; the rest is read."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from ..documents import Article
from .decoding import decode
from .errors import Warn
from .records import article_from_record

log = logging.getLogger(__name__)


def read(path: Path, source: str, warn: Warn) -> list[Article]:
    articles = []
    for number, line in enumerate(decode(path.read_bytes()).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            if "title" not in record or "text" not in record:
                raise KeyError("needs 'title' and 'text'")
            articles.append(article_from_record(record, source))
        except (ValueError, KeyError, TypeError) as error:
            message = f"skipped {source}:{number}: not an article record ({error})"
            log.warning(message)
            warn(message)
    return articles
