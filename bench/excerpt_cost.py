"""What choosing the excerpt and marking the answer cost per question, in milliseconds.

    .venv/bin/python bench/excerpt_cost.py [FILE] [--questions N]

Times, inside the real ``Answerer`` over a SQuAD-format file's own index (built and cached by
``python -m bot eval``), the excerpt ranker (all shown hits of a question in one call) and the
answer-span marking, at the product's 3 hits and at ``eval``'s 10. Not a test: figures only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.answering as answering  # noqa: E402
from bot.evaluate import prepare_squad  # noqa: E402
from embeddings.build import configure_logging  # noqa: E402
from embeddings.config import PROJECT_ROOT  # noqa: E402


def timed(function, spent: list[float]):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[-1] += (time.perf_counter() - started) * 1000
    return wrapper


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {statistics.median(ordered):.2f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, nargs="?",
                        default=PROJECT_ROOT.parent / "shared" / "bench" / "cmrc2018_trial.json")
    parser.add_argument("--questions", type=int, default=300)
    args = parser.parse_args(argv)
    configure_logging()
    index_dir, cases, _ = prepare_squad(args.file, progress=False)
    answerer = answering.Answerer.load(index_dir)
    questions = [c.question for c in cases if c.question.strip()][: args.questions + 50]
    ranker: list[float] = []
    spans: list[float] = []
    answering.select_excerpts = timed(answering.select_excerpts, ranker)
    answerer.answer_spans.best = timed(answerer.answer_spans.best, spans)
    for hits in (3, 10):
        for question in questions[:50]:  # warm: passages' windows are cached after their first question
            ranker.append(0.0)
            spans.append(0.0)
            answerer.answer(question, top_k=hits)
        ranker.clear()
        spans.clear()
        for question in questions[50:]:
            ranker.append(0.0)
            spans.append(0.0)
            answerer.answer(question, top_k=hits)
        print(f"{hits} hits: excerpt ranker {percentiles(ranker)}; answer spans {percentiles(spans)} "
              f"({len(ranker)} questions of {args.file.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
