"""Follow-up questions: excerpt hit@1 with and without the conversation's context.

    .venv/bin/python bench/followups.py [tests/data/panjin_followups.jsonl] [--index DIR]

Each line of the file is a conversation: turns ``{"q", "a": [gold…], "follows": bool}``;
``follows`` says whether the turn leans on the one before (labelled by hand). Every
conversation is asked twice over the same index: turn by turn alone (no context), and as one
conversation (``bot.conversation``). It prints excerpt hit@1 (the first excerpt holds a gold
answer; refusals aside, at MIN_CONFIDENCE=0) on the follow-up turns and on the turns that start
a new thread, and how often the bot followed up when it should and did not when it should not.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering import Answerer  # noqa: E402
from bot.config import AnswerSettings, index_dir_from  # noqa: E402
from bot.conversation import Conversation, ask  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from embeddings.text import normalise  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "data" / "panjin_followups.jsonl"


def holds(answer, gold: list[str]) -> bool:
    return bool(answer.hits) and any(normalise(g) in normalise(answer.hits[0].excerpt) for g in gold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--index", type=Path)
    args = parser.parse_args()
    configure_logging()
    answerer = Answerer.load(index_dir_from(args.index), AnswerSettings(min_confidence=0.0))
    rows = []  # (kind, language, alone hit, in-conversation hit, followed)
    for line in args.file.read_text(encoding="utf-8").splitlines():
        turns = json.loads(line)["turns"]
        conversation = Conversation()
        for position, turn in enumerate(turns):
            alone = answerer.answer(turn["q"])
            talked = ask(answerer, conversation, turn["q"])
            if position == 0:
                continue
            kind = "follow-up" if turn["follows"] else "new thread"
            language = "en" if re.match(r"[A-Za-z]", turn["q"]) else "zh"
            rows.append((kind, language, holds(alone, turn["a"]), holds(talked, turn["a"]), bool(talked.follow_up)))
    for kind in ("follow-up", "new thread"):
        for language in ("zh", "en", "all"):
            picked = [r for r in rows if r[0] == kind and language in (r[1], "all")]
            if not picked:
                continue
            share = lambda i: sum(r[i] for r in picked) / len(picked)  # noqa: E731
            decided = share(4) if kind == "follow-up" else 1 - share(4)
            print(f"{kind:10s} {language:3s} n={len(picked):2d}  excerpt hit@1 without context {share(2):.3f}  "
                  f"with {share(3):.3f}  decided right {decided:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
