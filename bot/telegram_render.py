"""Telegram HTML for an ``Answer``: every piece of corpus or user text escaped; question words in
bold, the marked answer in bold underline.

Each line opens and closes its own tags, so a long message can be split at any line
boundary without breaking the HTML.
"""

from __future__ import annotations

from html import escape

from .answer import NOT_FOUND, Answer, Hit, citation, closest_articles, confidence_note, follow_up_line

MESSAGE_LIMIT = 4096
PAGE = 3


def excerpt_html(hit: Hit) -> str:
    """Question terms in bold, the answer in bold underline."""
    return hit.marked(("<b>", "</b>"), ("<b><u>", "</u></b>"), escape)


def citation_html(hit: Hit) -> str:
    return f"<i>— {escape(hit.citation())}</i>"


def page_count(answer: Answer) -> int:
    """Page 0 is the best hit alone; each later page holds up to ``PAGE`` further hits."""
    rest = max(0, len(answer.hits) - 1)
    return 1 + (rest + PAGE - 1) // PAGE


def hits_on_page(answer: Answer, page: int) -> list[tuple[int, Hit]]:
    if page == 0:
        return [(1, answer.hits[0])] if answer.hits else []
    first = 1 + (page - 1) * PAGE
    return [(first + i + 1, hit) for i, hit in enumerate(answer.hits[first : first + PAGE])]


def answer_html(answer: Answer, page: int = 0) -> str:
    if answer.problem:  # with the closest articles when it has them (a question in another script)
        return "\n".join([escape(answer.problem), *closest_articles(answer, "• ", escape)])
    lines = [escape(answer.notice)] if answer.notice else []
    if answer.follow_up and page == 0:
        lines.append(f"<i>{escape(follow_up_line(answer))}</i>")
    if answer.not_found:
        lines.append(NOT_FOUND)
        lines += closest_articles(answer, "• ", escape)
        return "\n".join(lines)
    for number, hit in hits_on_page(answer, page):
        prefix = f"{number}. " if page else ""
        lines.append(prefix + excerpt_html(hit))
        lines.append(citation_html(hit))
        lines.append("")
    note = confidence_note(answer) if page == 0 else ""
    if note:
        lines.append(f"<i>{escape(note)}</i>")
    return "\n".join(lines).rstrip()


def passage_html(article: str, section: str, paragraph: int, text: str, part: int = 0) -> str:
    return f"<i>{escape(citation(article, section, paragraph, part))}</i>\n" + escape(text)


def split_message(html_text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split at line boundaries; a single over-long line is cut outside tags and entities."""
    chunks: list[str] = []
    current = ""
    for line in html_text.split("\n"):
        pieces = _cut_line(line, limit) if len(line) > limit else [line]
        for piece in pieces:
            candidate = piece if not current else current + "\n" + piece
            if len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks or [""]


def _cut_line(line: str, limit: int) -> list[str]:
    pieces, start = [], 0
    while len(line) - start > limit:
        cut = start + limit
        while cut > start and not _safe_cut(line, cut):
            cut -= 1
        if cut == start:  # no safe place (should not happen with escaped text): hard cut
            cut = start + limit
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return pieces


def _safe_cut(line: str, position: int) -> bool:
    """Not inside a tag (<...>) or an entity (&...;), and no tag left open before it."""
    before = line[:position]
    if before.rfind("<") > before.rfind(">") or before.rfind("&") > before.rfind(";"):
        return False
    return all(before.count(f"<{tag}>") == before.count(f"</{tag}>") for tag in ("b", "i", "u"))
