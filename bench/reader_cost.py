"""What the reader costs a question, its fitted layers in float32 and in int8, in one process.

    .venv/bin/python bench/reader_cost.py [--index DIR] [--questions JSONL] [--others FILE] [--rounds 3]

The reader (``bot/reader.py``) is most of a question's time: the first three hits' pairs through
the encoder's lower layers, then two fitted models. Both ways of running the fitted layers are
timed in turn, round after round, on the same questions and index (default: the shipped page,
``index/``): ``float32`` (the graph as the eighteenth session shipped it: the baseline) and
``int8`` (its matrix products quantised, as shipped now).

Questions: the labelled questions about the page (``--questions``) and as many that the page
does not answer (``--unrelated`` of ``--others``: XQuAD's first English questions, about other
articles). Prints each way's p50 / p95 per question and its ratio to the baseline, and how far
the int8 answers are from the baseline's: the same decision (answered or "not found"), the same
first excerpt, the confidence's mean and largest difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering import Answerer  # noqa: E402
from bot.reader import WEIGHTS_FILE, Reader, shipped_reader, unpacked  # noqa: E402
from embeddings.config import PROJECT_ROOT  # noqa: E402

BENCH = PROJECT_ROOT.parent / "shared" / "bench"


def questions_of(questions: Path, others: Path, count: int) -> list[str]:
    asked = [json.loads(line)["q"] for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = json.loads(others.read_text(encoding="utf-8"))["data"]
    unrelated = [qa["question"] for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    return asked + unrelated[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=PROJECT_ROOT / "index")
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "tests" / "data" / "panjin_questions.jsonl")
    parser.add_argument("--others", type=Path, default=BENCH / "xquad_dev_en.json")
    parser.add_argument("--unrelated", type=int, default=80, help="how many of --others' questions")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = questions_of(args.questions, args.others, args.unrelated)
    answerer = Answerer.load(args.index)
    int8 = shipped_reader()
    float32 = Reader.from_weights(unpacked(WEIGHTS_FILE), 2, int8.max_tokens, int8.fold_of_article, int8=False)
    ways = {"float32": float32, "int8": int8}
    times: dict[str, list[float]] = {name: [] for name in ways}
    answers: dict[str, list] = {}
    for question in questions[:10]:  # warm every path once
        answerer.answer(question)
    for _ in range(args.rounds):
        for name, reader in ways.items():
            answerer.reader = reader
            got = []
            for question in questions:
                started = time.perf_counter()
                got.append(answerer.answer(question))
                times[name].append((time.perf_counter() - started) * 1000)
            answers.setdefault(name, got)
    baseline = "float32"
    base_p50 = statistics.median(times[baseline])
    print(f"{len(questions)} questions ({len(questions) - args.unrelated} about the page, {args.unrelated} not), "
          f"{args.rounds} rounds, ways taken in turn")
    for name in ways:
        ordered = sorted(times[name])
        p50, p95 = statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]
        print(f"  {name:8s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({base_p50 / p50:.2f}x the baseline's p50)")
    for name in ways:
        if name == baseline:
            continue
        same_excerpt = same_decision = 0
        differences = []
        for before, after in zip(answers[baseline], answers[name]):
            same_decision += before.not_found == after.not_found
            same_excerpt += (before.hits[:1] and before.hits[0].excerpt) == (after.hits[:1] and after.hits[0].excerpt)
            differences.append(abs((before.confidence or 0.0) - (after.confidence or 0.0)))
        print(f"  {name} against the baseline: same decision {same_decision}/{len(questions)}, same first excerpt "
              f"{same_excerpt}/{len(questions)}, confidence difference mean {statistics.mean(differences):.4f}, "
              f"largest {max(differences):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
