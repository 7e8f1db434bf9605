"""The data that flows from the corpus into the index: articles and their passages."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field


@dataclass
class Paragraph:
    """One repaired paragraph of an article body, before it becomes a passage."""

    text: str
    section: str = ""
    table: bool = False  # rows of a table, one per line: never joined to prose by the repairs


@dataclass
class Article:
    title: str
    source: str
    subtitle: str = ""
    byline: str = ""
    date: str = ""
    url: str = ""
    column: str = ""
    paragraphs: list[Paragraph] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return stable_id(self.source, self.title)


@dataclass
class Passage:
    """One paragraph of one article: the unit that is indexed, ranked and quoted."""

    id: str
    text: str
    article_id: str
    title: str
    ordinal: int  # the paragraph's number in its article
    source: str
    part: int = 0  # 0: the whole paragraph; 1, 2, …: a part of a paragraph too long for one passage
    subtitle: str = ""
    section: str = ""
    byline: str = ""
    date: str = ""
    url: str = ""
    sentences: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "Passage":
        data = dict(data)
        data["sentences"] = [tuple(span) for span in data.get("sentences", [])]
        return cls(**data)

    @property
    def text_key(self) -> str:
        """Identifies the text alone, so one vector serves the same text in any file."""
        return stable_id(self.text)


def stable_id(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]
