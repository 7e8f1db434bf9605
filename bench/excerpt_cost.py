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
from embeddings.config import PROJECT_ROOT  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402


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
    answering.ranked_excerpts = timed(answering.ranked_excerpts, ranker)
    answerer.answer_spans.judge = timed(answerer.answer_spans.judge, spans)
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
    compare_tree_paths(answerer, questions[50:])
    return 0


def compare_tree_paths(answerer, questions: list[str]) -> None:
    """The trees of both rankers on the tables these questions made (10 hits), evaluated by
    QuickScorer's bitmasks (what answering uses) and by walking them (the baseline), same run."""
    tables = []
    for model in (answerer.ranker.ranker, answerer.answer_spans.ranker):
        original = model.scores

        def keep(table, columns, _model=model, _original=original):
            tables.append((_model, table[:, [columns.index(n) for n in _model.features]]))
            return _original(table, columns)

        model.scores = keep
    for question in questions:
        answerer.answer(question, top_k=10)
    timings = {}
    for path in ("predict", "_predict_by_walking"):
        started = time.perf_counter()
        for model, table in tables:
            getattr(model.ensemble, path)(table)
        timings[path] = (time.perf_counter() - started) * 1000 / len(questions)
    print(f"tree evaluation per question (both rankers, 10 hits): bitmasks {timings['predict']:.2f} ms, "
          f"walking {timings['_predict_by_walking']:.2f} ms: {timings['_predict_by_walking'] / timings['predict']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
