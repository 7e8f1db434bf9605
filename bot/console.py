"""``python -m bot console``: ask questions in a terminal.

On a terminal: line editing and history (readline), coloured highlights, and commands
``/help``, ``/more``, ``/source N``, ``/new``, ``/quit``. A question that leans on the previous
one is answered in its context (see ``conversation``); ``/new`` starts afresh. With stdin not a terminal it answers each
input line and exits at end of input, so it can be scripted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from .answer import Answer
from .answering import Answerer
from .conversation import Conversation, ask
from .render_text import render_answer, render_passage

PAGE = 3
HELP = """Ask a question about the articles, in Chinese or English.
  /more       further results for the last question
  /source N   the whole paragraph of result N
  /new        a new conversation (the next question does not follow up on the last)
  /help       this text
  /quit       leave (Ctrl-D works too)"""


class ConsoleSession:
    """The state of one conversation: the last answer and how much of it was shown."""

    def __init__(self, answerer: Answerer, colour: bool):
        self.answerer = answerer
        self.colour = colour
        self.last: Answer | None = None
        self.shown = 0
        self.conversation = Conversation()

    def handle(self, line: str) -> str | None:
        """The reply to one input line; ``None`` means the user wants to leave."""
        command, _, argument = line.strip().partition(" ")
        if command in ("/quit", "/exit", "/q"):
            return None
        if command == "/help":
            return HELP
        if command == "/more":
            return self._more()
        if command == "/source":
            return self._source(argument.strip())
        if command == "/new":
            self.conversation = Conversation()
            return "新的对话 / A new conversation: the next question stands on its own."
        if command.startswith("/") and len(command) > 1 and command[1:].isascii():
            return f"Unknown command {command}. " + HELP
        updated = self.answerer.reload_if_changed()
        self.last = ask(self.answerer, self.conversation, line, top_k=10)
        self.shown = min(PAGE, len(self.last.hits))
        reply = self.render(self.last)
        if updated is not None:
            reply = f"(索引已更新 / index updated: {updated.manifest.passages} passages)\n" + reply
        return reply

    def render(self, answer: Answer) -> str:
        return render_answer(answer, colour=self.colour, hits=PAGE)

    def _more(self) -> str:
        if self.last is None or not self.last.hits:
            return "Nothing to continue: ask a question first."
        if self.shown >= len(self.last.hits):
            return "No further results."
        text = render_answer(self.last, colour=self.colour, hits=PAGE, first=self.shown)
        self.shown = min(self.shown + PAGE, len(self.last.hits))
        return text

    def _source(self, argument: str) -> str:
        if self.last is None or not self.last.hits:
            return "Ask a question first; then /source N shows the paragraph of result N."
        if not argument.isdigit() or not 1 <= int(argument) <= self.shown:
            return f"Use /source N with N from 1 to {self.shown}."
        number = int(argument)
        return render_passage(number, self.last.hits[number - 1])


def run(answerer: Answerer, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty() and stdout.isatty()
    session = ConsoleSession(answerer, colour=interactive)
    if interactive:
        _enable_history()
        manifest = answerer.index.manifest
        print(f"{manifest.articles} articles, {manifest.passages} passages. /help for commands.", file=stdout)
    while True:
        try:
            line = input("? ") if interactive else stdin.readline()
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=stdout)
            continue
        if not interactive and line == "":
            break
        line = line.rstrip("\n")
        if not line.strip():
            if not interactive:
                stdout.write("The question is empty: type a question about the articles.\n")
            continue
        reply = session.handle(line)
        if reply is None:
            break
        stdout.write(reply + "\n\n" if interactive else reply + "\n")
        stdout.flush()
    return 0


def _enable_history() -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - not on every platform
        return
    history = Path.home() / ".newsqa_history"
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    import atexit

    atexit.register(lambda: _save_history(readline, history))


def _save_history(readline, history: Path) -> None:
    try:
        readline.write_history_file(history)
    except OSError:
        pass
