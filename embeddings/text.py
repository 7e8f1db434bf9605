"""Text helpers shared by parsing, indexing and excerpting: normalisation and sentence spans.

Matching happens on normalised text (NFKC folds full-width and half-width forms), but every
offset here refers to the original string, so what a user is shown is always a verbatim slice.
"""

from __future__ import annotations

import functools
import re
import unicodedata

SENTENCE_END = "。！？!?；;…"
CLOSING_QUOTES = "”’」』\"'）)》"
SENTENCE_FINAL = SENTENCE_END + CLOSING_QUOTES
CLAUSE_END = "，,、：:；;"

_SENTENCE_BOUNDARY = re.compile(
    r"(?:[。！？!?；;…]+|\.(?=\s|$))[”’」』\"'）)]*|\n"
)
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
CJK_CHAR = re.compile(f"[{_CJK}]")
CJK_WORD = re.compile(f"[{_CJK}]{{2,}}")  # a run of Chinese characters, as a whole word


def normalise(text: str) -> str:
    """NFKC, for matching only (never for what is shown)."""
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> str:
    """What matching compares: NFKC, lower case, simplified characters (丹頂鶴 → 丹顶鹤), one
    character for each character of ``text`` so that offsets found in it hold in the original."""
    folded = normalise(text).lower()
    if len(folded) != len(text):
        folded = "".join(normalise(c).lower()[:1] or " " for c in text)
    return to_simplified_chars(folded)


@functools.cache
def _traditional_to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters (and phrases) in their simplified form, as the corpus is indexed."""
    return _traditional_to_simplified().convert(text) if CJK_CHAR.search(text) else text


def to_simplified_chars(text: str) -> str:
    """``to_simplified`` that keeps the length (character by character where phrases differ)."""
    converted = to_simplified(text)
    if len(converted) == len(text):
        return converted
    return "".join(c if len(s := to_simplified(c)) != 1 else s for c in text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text``, leading/trailing spaces excluded.

    A sentence ends at ``。！？!?；…`` (a run of them counts once) or at an English full stop
    followed by a space, and takes any closing quotes that follow with it. A line break (only
    tables keep them: one row per line) ends a sentence too.
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
    return bool(stripped) and (stripped[-1] in SENTENCE_FINAL or stripped[-1] == ".")


def is_cjk(char: str) -> bool:
    return bool(CJK_CHAR.fullmatch(char))


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|.)")


def strip_control(text: str) -> str:
    """Remove terminal escapes, control and zero-width characters; tabs and newlines become spaces."""
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text.replace("\t", " ").replace("\r", " ").replace("\n", " "))
