"""Plain-text rendering of an ``Answer`` for terminals (ANSI highlights when it is a terminal)."""

from __future__ import annotations

import textwrap

from .answer import NOT_FOUND, Answer, Hit, closest_articles, confidence_note, follow_up_line

BOLD_YELLOW, BOLD_GREEN_UNDERLINE, DIM, RESET = "\033[1;33m", "\033[1;4;32m", "\033[2m", "\033[0m"


def highlighted(hit: Hit, colour: bool) -> str:
    """The excerpt with question terms and the answer marked: yellow and underlined green on a
    terminal; 【term】 and 〖answer〗 elsewhere."""
    if colour:
        return hit.marked((BOLD_YELLOW, RESET), (BOLD_GREEN_UNDERLINE, RESET))
    return hit.marked(("【", "】"), ("〖", "〗"))


def render_hit(number: int, hit: Hit, colour: bool, lead: bool) -> str:
    citation = hit.citation()
    extra = " · ".join(p for p in [hit.byline, hit.date, hit.url] if p)
    lines = [f"[{number}] {highlighted(hit, colour)}"]
    meta = f"    — {citation}" + (f" ({extra})" if extra and lead else "")
    lines.append(f"{DIM}{meta}{RESET}" if colour else meta)
    return "\n".join(lines)


def render_answer(answer: Answer, colour: bool = False, hits: int | None = None, first: int = 0) -> str:
    if answer.problem:  # with the closest articles when it has them (a question in another script)
        return "\n".join([answer.problem, *closest_articles(answer, "  · ")])
    parts = [answer.notice] if answer.notice else []
    if answer.follow_up and first == 0:
        parts.append(f"{DIM}{follow_up_line(answer)}{RESET}" if colour else follow_up_line(answer))
    if answer.not_found:
        parts.append(NOT_FOUND)
        parts += closest_articles(answer, "  · ")
        return "\n".join(parts)
    shown = answer.hits[first : first + (hits or len(answer.hits))]
    for offset, hit in enumerate(shown):
        parts.append(render_hit(first + offset + 1, hit, colour, lead=first + offset == 0))
    note = confidence_note(answer) if first == 0 else ""
    if note:
        parts.append(f"{DIM}{note}{RESET}" if colour else note)
    return "\n".join(parts)


def render_passage(number: int, hit: Hit, width: int = 78) -> str:
    header = f"[{number}] {hit.citation()} — {hit.source}"
    return header + "\n" + "\n".join(textwrap.wrap(hit.passage, width=width // 2 if width else 39))
