"""Where a question's time goes, stage by stage, on a built index (default: ``index/``).

    .venv/bin/python bench/answer_cost.py [--index DIR] [--questions JSONL] [--warm 20] [--rounds 3] [--top-k 3] [--forget-excerpts]

The first ``--warm`` labelled questions warm the process up (models, jieba, caches of the
passages they reach). The figures are then taken on the other questions, each asked for the
first time (what a user with a new question waits), and again on ``--rounds`` more rounds of
the same questions (repeats, for comparison). Prints p50/p95 of the whole answer and the mean
milliseconds of each stage (encoder, retrieval, excerpts, highlights, answer spans, reader,
confidence evidence) of the first asks, and how many first excerpts had been aligned for an earlier
question (their token states are kept; ``--forget-excerpts`` measures without that).
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bot.answering as answering  # noqa: E402
from embeddings.config import PROJECT_ROOT  # noqa: E402

spent: dict[str, float] = collections.defaultdict(float)


def timed(owner, name: str, label: str) -> None:
    inner = getattr(owner, name)

    def measured(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started

    setattr(owner, name, measured)


def timed_answer(answerer, question: str, top_k: int) -> float:
    started = time.perf_counter()
    answerer.answer(question, top_k=top_k)
    return (time.perf_counter() - started) * 1000


def percentiles(milliseconds: list[float]) -> str:
    ordered = sorted(milliseconds)
    return f"p50 {statistics.median(ordered):.1f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=PROJECT_ROOT / "index")
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "tests" / "data" / "panjin_questions.jsonl")
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--forget-excerpts", action="store_true",
                        help="align every excerpt afresh (no token states kept from earlier questions)")
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    answerer = answering.Answerer.load(args.index)
    for owner, name, label in [
        (answerer.encoder, "encode_query", "encoder"), (answerer.encoder, "encode_queries", "encoder"),
        (answerer.encoder, "encode_question", "encoder (vector and token states)"),
        (answerer.encoder, "question_tokens", "alignment: question"),
        (answerer.encoder, "passage_tokens", "alignment: excerpt"),
        (answerer.retriever, "translate", "translation"), (answerer.retriever, "search", "retrieval"),
        (answering, "ranked_excerpts", "excerpts"), (answering, "highlight_spans", "highlights"),
        (answerer.answer_spans, "judge", "answer spans"), (answerer, "evidence", "confidence evidence"),
        (answering, "parse_question", "question parsing"),
        (answerer.reader, "read", "reader (pairs' lower layers and fitted layers)"),
    ]:
        timed(owner, name, label)
    kept = getattr(answerer.encoder, "_excerpt_states", {})  # excerpts aligned before (ONNX encoder)
    excerpts_kept = []
    inner = answerer.encoder.passage_tokens

    def counted(text):
        if args.forget_excerpts:
            kept.clear()
        excerpts_kept.append(text in kept)
        return inner(text)

    answerer.encoder.passage_tokens = counted
    warm, fresh = questions[: args.warm], questions[args.warm :]
    for question in warm:
        answerer.answer(question, top_k=args.top_k)
    spent.clear()
    excerpts_kept.clear()
    first = [timed_answer(answerer, question, args.top_k) for question in fresh]
    stages = dict(spent)
    reused, aligned = sum(excerpts_kept), len(excerpts_kept)
    repeats = [timed_answer(answerer, question, args.top_k) for _ in range(args.rounds) for question in fresh]
    print(f"{len(first)} questions asked for the first time (after {len(warm)} others), top-k {args.top_k}: "
          f"{percentiles(first)}")
    print(f"first excerpts already aligned for an earlier question (their token states kept): {reused} of "
          f"{aligned}")
    print(f"the same questions asked again ({args.rounds} rounds): {percentiles(repeats)}")
    if hasattr(answerer.encoder, "encode_question"):
        encoder = answerer.encoder
        one, two = [], []
        for question in fresh * 2:
            started = time.perf_counter()
            encoder.encode_question(question)
            one.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            encoder.encode_query(question)
            encoder.question_tokens(question)
            two.append((time.perf_counter() - started) * 1000)
        print(f"a question's vector and token states, p50: {statistics.median(one):.1f} ms in one pass "
              f"(encode_question) against {statistics.median(two):.1f} ms in two (encode_query + question_tokens): "
              f"{statistics.median(two) / statistics.median(one):.2f}x")
    print("where a first ask goes (mean ms):")
    for label, seconds in sorted(stages.items(), key=lambda item: -item[1]):
        print(f"  {label:34s} {seconds / len(first) * 1000:6.2f} ms")
    print(f"  {'the rest':34s} {statistics.mean(first) - sum(stages.values()) / len(first) * 1000:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
