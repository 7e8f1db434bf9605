"""Repairs of what page layout broke, shared by every reader: cut paragraphs joined, lines of
one paragraph joined, a paragraph printed twice kept once."""

from __future__ import annotations

from .documents import Article, Paragraph
from .text import ends_sentence, is_cjk, normalise


def join_lines(lines: list[str]) -> str:
    """Lines of one paragraph: CJK lines join directly, Latin words get a space, and a word
    hyphenated at the end of a line is joined again."""
    joined = lines[0]
    for line in lines[1:]:
        if not joined:
            joined = line
            continue
        if not line:
            continue
        if joined.endswith("-") and joined[-2:-1].isalpha() and line[0].islower():
            joined = joined[:-1] + line
            continue
        needs_space = not (is_cjk(joined[-1]) or is_cjk(line[0]))
        joined += (" " if needs_space else "") + line
    return joined


def repair_paragraphs(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Join paragraphs that the layout cut mid-sentence."""
    repaired: list[Paragraph] = []
    for paragraph in paragraphs:
        previous = repaired[-1] if repaired else None
        if (
            previous and previous.section == paragraph.section and not ends_sentence(previous.text)
            and not previous.table and not paragraph.table
        ):
            previous.text = join_cut(previous.text, paragraph.text)
        else:
            repaired.append(Paragraph(paragraph.text, paragraph.section, paragraph.table))
    return repaired


def join_cut(head: str, tail: str) -> str:
    """``…难题,盘`` + ``盘锦市…`` is one ``盘`` printed twice across the cut, not a word ``盘盘``."""
    if head and tail and head[-1] == tail[0] and is_cjk(tail[0]) and not _is_word(tail[0] * 2):
        tail = tail[1:]
    if head and tail and not (is_cjk(head[-1]) or is_cjk(tail[0])) and not head[-1].isspace():
        return head + " " + tail
    return head + tail


def _is_word(candidate: str) -> bool:
    from .lexical import segmenter

    return bool(segmenter().get_FREQ(candidate))


def drop_duplicate_paragraphs(articles: list[Article]) -> None:
    """A paragraph printed twice in one file is kept once (its first occurrence)."""
    seen: set[str] = set()
    for article in articles:
        kept = []
        for paragraph in article.paragraphs:
            key = normalise(paragraph.text)
            if key not in seen:
                seen.add(key)
                kept.append(paragraph)
        article.paragraphs = kept
