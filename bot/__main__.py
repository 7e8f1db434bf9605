"""``python -m bot {console,ask,eval,telegram}``: the front-ends over one index."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from embeddings.logs import configure_logging
from embeddings.encoder import EncoderError
from embeddings.index_store import IndexUnavailable

from .config import SettingError, index_dir_from


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def with_index(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--index", type=Path, help="index folder (default: INDEX_DIR or index/)")
        return sub

    with_index(commands.add_parser("console", help="interactive questions in the terminal"))
    ask = with_index(commands.add_parser("ask", help="answer one question (or one per stdin line)"))
    ask.add_argument("question", nargs="?", help="the question; omit to read stdin")
    ask.add_argument("--top-k", type=int, default=None, help="how many hits (default TOP_K or 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question")
    ask.add_argument(
        "--conversation", action="store_true",
        help="stdin lines are one conversation: questions may follow up on the previous one (/new restarts)",
    )
    evaluation = with_index(commands.add_parser("eval", help="measure answers against known ones"))
    evaluation.add_argument("file", type=Path, help="JSONL {q, a} or SQuAD-format JSON")
    evaluation.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    evaluation.add_argument(
        "--refusal", action="store_true",
        help="SQuAD file: index every other context, ask every question (../shared/bench/README.md)",
    )
    evaluation.add_argument(
        "--distractors", type=Path, metavar="JSONL",
        help="mix the corpus into these unrelated articles first (an archive, not one page)",
    )
    evaluation.add_argument(
        "--skip-articles", type=int, default=0, metavar="N",
        help="ask only the questions of the articles after the first N (a held-out part)",
    )
    evaluation.add_argument(
        "--show-wrong", type=int, default=0, metavar="N",
        help="list the N most confident quotations shown without the answer (to choose MIN_CONFIDENCE)",
    )
    with_index(commands.add_parser("telegram", help="run the Telegram bot"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    index_dir = index_dir_from(args.index)
    try:
        if args.command == "eval":
            from . import evaluate

            return evaluate.run(
                args.file, index_dir, args.json, refusal=args.refusal,
                distractors=args.distractors, skip_articles=args.skip_articles, show_wrong=args.show_wrong,
            )
        if args.command == "telegram":
            from . import telegram_bot

            return telegram_bot.run(index_dir)
        from .answering import Answerer

        answerer = Answerer.load(index_dir, warm=args.command != "ask")
        if args.command == "ask":
            from . import ask

            return ask.run(answerer, args.question, args.top_k, args.json, conversation=args.conversation)
        from . import console

        return console.run(answerer)
    except (IndexUnavailable, EncoderError, SettingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
