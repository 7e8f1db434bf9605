"""Text helpers shared by parsing, indexing and excerpting: normalisation and sentence spans.

Matching happens on normalised text (NFKC folds full-width and half-width forms), but every
offset here refers to the original string, so what a user is shown is always a verbatim slice.
"""

from __future__ import annotations

import re
import unicodedata

SENTENCE_END = "。！？!?；;…"
CLOSING_QUOTES = "”’」』\"'）)》"
SENTENCE_FINAL = SENTENCE_END + CLOSING_QUOTES
CLAUSE_END = "，,、：:；;"

_SENTENCE_BOUNDARY = re.compile(
    r"(?:[。！？!?；;…]+|\.(?=\s|$))[”’」』\"'）)]*"
)
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
CJK_CHAR = re.compile(f"[{_CJK}]")


def normalise(text: str) -> str:
    """NFKC, for matching only (never for what is shown)."""
    return unicodedata.normalize("NFKC", text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, leading/trailing spaces excluded.

    A sentence ends at ``。！？!?；…`` (a run of them counts once) or at an English full stop
    followed by a space, and takes any closing quotes that follow with it.
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_BOUNDARY.finditer(text):
        end = match.end()
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def ends_sentence(text: str) -> bool:
    """True when a paragraph ends as a sentence does (and so was not cut by the layout)."""
    stripped = text.rstrip()
    return bool(stripped) and stripped[-1] in SENTENCE_FINAL


def is_cjk(char: str) -> bool:
    return bool(CJK_CHAR.fullmatch(char))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|.)")


def strip_control(text: str) -> str:
    """Remove terminal escapes, control and zero-width characters; tabs and newlines become spaces."""
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text.replace("\t", " ").replace("\r", " ").replace("\n", " "))
