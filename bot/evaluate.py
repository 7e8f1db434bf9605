"""``python -m bot eval FILE``: how well the bot answers a set of questions with known answers.

FILE is JSONL (``{"q": ..., "a": [...]}``, no or empty ``a`` = unanswerable) asked against the
configured index, or a SQuAD-format JSON whose contexts become a corpus of their own (built in
a cache folder keyed by the file's hash, so a second run does not encode anything).
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from embeddings.build import build_index
from embeddings.config import IndexSettings
from embeddings.text import normalise

from .answering import Answerer

log = logging.getLogger(__name__)


@dataclass
class Case:
    question: str
    answers: list[str] = field(default_factory=list)
    context: str = ""  # the passage that holds the answer, when known (SQuAD)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_jsonl_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            cases.append(Case(str(record.get("q", "")), [str(a) for a in record.get("a") or []]))
        except (ValueError, AttributeError) as error:
            log.warning("%s:%d skipped: not a JSON object with q/a (%s)", path, number, error)
    return cases


def squad_corpus(path: Path, cache_root: Path) -> tuple[Path, list[Case]]:
    """Write the contexts as a JSONL corpus (one article each) and return the questions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    folder = cache_root / "eval" / f"{path.stem}-{digest}"
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    lines = []
    for entry in data.get("data", []):
        for paragraph in entry.get("paragraphs", []):
            context_id = str(paragraph.get("id") or entry.get("id") or len(lines))
            lines.append(json.dumps(
                {"title": entry.get("title") or context_id, "text": paragraph["context"],
                 "url": f"context:{context_id}"}, ensure_ascii=False,
            ))
            for qa in paragraph.get("qas", []):
                answers = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                cases.append(Case(qa.get("question", ""), answers, f"context:{context_id}"))
    target = corpus / "contexts.jsonl"
    text = "\n".join(lines) + "\n"
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return folder, cases


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def evaluate(answerer: Answerer, cases: list[Case]) -> dict:
    asked = skipped = 0
    recall1 = recall5 = reciprocal = excerpt_hits = 0.0
    with_context = answered = answerable = refused = unanswerable = 0
    lengths: list[int] = []
    latencies: list[float] = []
    for case in cases:
        if not case.question.strip():
            skipped += 1
            log.warning("skipped an empty question (answers %s)", case.answers)
            continue
        asked += 1
        answer = answerer.answer(case.question, top_k=10)
        latencies.append(answer.elapsed_ms)
        if answer.hits:
            lengths.append(len(answer.hits[0].excerpt))
        if not case.answerable:
            unanswerable += 1
            refused += answer.not_found
            continue
        answerable += 1
        answered += not answer.not_found
        gold = [normalise(a) for a in case.answers]
        if answer.hits and any(g in normalise(answer.hits[0].excerpt) for g in gold):
            excerpt_hits += 1
        if case.context:
            with_context += 1
            ranks = [i for i, hit in enumerate(answer.hits) if hit.url == case.context]
            if ranks:
                recall1 += ranks[0] < 1
                recall5 += ranks[0] < 5
                reciprocal += 1 / (ranks[0] + 1)

    def share(count: float, total: int) -> float | None:
        return round(count / total, 4) if total else None

    return {
        "questions": asked,
        "skipped_empty": skipped,
        "passage_recall@1": share(recall1, with_context),
        "passage_recall@5": share(recall5, with_context),
        "mrr@10": share(reciprocal, with_context),
        "excerpt_hit@1": share(excerpt_hits, answerable),
        "mean_excerpt_chars": round(statistics.fmean(lengths), 1) if lengths else None,
        "answerable_answered": share(answered, answerable),
        "unanswerable_refused": share(refused, unanswerable),
        "latency_ms_p50": round(_percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(_percentile(latencies, 0.95), 1),
        "fusion": answerer.settings.fusion,
    }


def run(file: Path, index_dir: Path, as_json: bool, answerer_factory=Answerer.load) -> int:
    if not file.is_file():
        print(f"error: {file} does not exist", file=sys.stderr)
        return 2
    if file.suffix.lower() == ".json":
        settings = IndexSettings.from_env()
        folder, cases = squad_corpus(file, settings.cache_dir)
        eval_settings = replace(settings, corpus_dir=folder / "corpus", index_dir=folder / "index")
        report = build_index(eval_settings, progress=not as_json)
        log.info("evaluation corpus: %s", report.summary())
        index_dir = eval_settings.index_dir
    else:
        cases = load_jsonl_cases(file)
    answerer = answerer_factory(index_dir)
    results = evaluate(answerer, cases)
    if as_json:
        print(json.dumps(results, ensure_ascii=False))
    else:
        for name, value in results.items():
            print(f"{name:22} {value}")
    return 0
