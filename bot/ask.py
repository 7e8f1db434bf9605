"""``python -m bot ask "question" [--top-k N] [--json] [--conversation]``; with no question, one per
stdin line (with ``--conversation``, the lines are one conversation: a question may follow up on
the one before, and each JSON answer says whether and on what it did)."""

from __future__ import annotations

import json
import sys
from typing import Iterable, TextIO

from .answering import Answerer
from .conversation import Conversation, ask
from .render_text import render_answer


def questions_from(argument: str | None, stdin: TextIO) -> Iterable[str]:
    if argument is not None:
        yield argument
        return
    for line in stdin:
        yield line.rstrip("\n")


def run(answerer: Answerer, question: str | None, top_k: int | None, as_json: bool,
        stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout, conversation: bool = False) -> int:
    talk = Conversation() if conversation else None
    for text in questions_from(question, stdin):
        if talk is not None and text.strip() == "/new":
            talk = Conversation()
            continue
        answer = ask(answerer, talk, text, top_k) if talk is not None else answerer.answer(text, top_k=top_k)
        if as_json:
            stdout.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")
        else:
            stdout.write(render_answer(answer, colour=stdout.isatty(), hits=top_k) + "\n")
        stdout.flush()
    return 0
