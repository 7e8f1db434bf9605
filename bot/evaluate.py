"""``python -m bot eval FILE``: how well the bot answers a set of questions with known answers.

FILE is JSONL (``{"q": ..., "a": [...]}``, no or empty ``a`` = unanswerable) asked against the
configured index, or a SQuAD-format JSON whose contexts become a corpus of their own (built in
a cache folder keyed by the file's hash, so a second run does not encode anything).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings import lexical
from embeddings.build import build_index
from embeddings.config import IndexSettings
from embeddings.index_store import KnowledgeIndex, load_index, write_index
from embeddings.text import normalise

from .answering import Answerer

log = logging.getLogger(__name__)


CUTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass
class Case:
    question: str
    answers: list[str] = field(default_factory=list)
    context: str = ""  # the passage that holds the answer, when known (SQuAD)
    article: str = ""  # the article of that passage (to split data by article)
    indexed: bool = True  # False: its passage was left out of the index (refusal protocol)

    @property
    def answerable(self) -> bool:
        return bool(self.answers) and self.indexed


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
                cases.append(Case(
                    qa.get("question", ""), answers, f"context:{context_id}", str(entry.get("title", "")),
                ))
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


@dataclass
class Outcome:
    """One asked question: what came back, and whether its first excerpt holds the gold."""

    case: Case
    answered: bool  # an excerpt was shown (at the operating cut)
    correct: bool  # the first excerpt (shown or not) holds a gold answer
    confidence: float | None
    rank: int | None  # place of the gold passage among the hits (None: not among them)
    excerpt: str  # the first excerpt ("" when none)
    latency_ms: float
    has_excerpt: bool  # the pipeline produced an excerpt (no "problem" with the question)
    answer_hit: bool = False  # the first excerpt's marked answer is the gold (see ``answer_hit``)
    article: str = ""  # the first excerpt's article


def answer_hit(excerpt: str, span: tuple[int, int] | None, answers: list[str]) -> bool:
    """The marked span overlaps a gold answer's place in the excerpt and is at most three times
    its length (the "answer hit" of the excerpt issue)."""
    if span is None:
        return False
    start, end = span
    for answer in answers:
        answer = answer.strip()
        at = excerpt.find(answer) if answer else -1
        while at >= 0:
            if start < at + len(answer) and at < end and end - start <= 3 * len(answer):
                return True
            at = excerpt.find(answer, at + 1)
    return False


def ask_all(answerer: Answerer, cases: list[Case], cut: float) -> tuple[list[Outcome], int]:
    """Every non-empty question, answered with refusals decided at ``cut`` afterwards, so the
    same run can also say what any other cut would have done."""
    outcomes, skipped = [], 0
    for case in cases:
        if not case.question.strip():
            skipped += 1
            log.warning("skipped an empty question (answers %s)", case.answers)
            continue
        answer = answerer.answer(case.question, top_k=10)
        gold = [normalise(a) for a in case.answers]
        first = answer.hits[0] if answer.hits else None
        correct = bool(first and any(g and g in normalise(first.excerpt) for g in gold))
        ranks = [i for i, hit in enumerate(answer.hits) if case.context and hit.url == case.context]
        confident = answer.confidence is None or answer.confidence >= cut
        outcomes.append(Outcome(
            case, bool(first) and confident, correct, answer.confidence, ranks[0] if ranks else None,
            first.excerpt if first else "", answer.elapsed_ms, first is not None,
            bool(first) and answer_hit(first.excerpt, first.answer_span, case.answers), first.article if first else "",
        ))
    return outcomes, skipped


def refusal_figures(outcomes: list[Outcome], cut: float | None = None) -> dict:
    """Answered share of answerable questions, refused share of unanswerable ones, and the
    share of unanswerable ones that got a quotation without the answer ("confident wrong")."""
    def shown(o: Outcome) -> bool:
        return o.answered if cut is None else o.has_excerpt and (o.confidence is None or o.confidence >= cut)

    answerable = [o for o in outcomes if o.case.answerable]
    absent = [o for o in outcomes if not o.case.answerable]
    return {
        "answered": _share(sum(shown(o) for o in answerable), len(answerable)),
        "answered_right": _share(sum(shown(o) and o.correct for o in answerable), len(answerable)),
        "refused": _share(sum(not shown(o) for o in absent), len(absent)),
        "confident_wrong": _share(sum(shown(o) and not o.correct for o in absent), len(absent)),
    }


def wrong_quotes(outcomes: list[Outcome], limit: int) -> list[dict]:
    """The quotations shown without the answer, most confident first: the ones an operator reads
    to choose ``MIN_CONFIDENCE`` (and to see whether the gold check is too strict for them)."""
    wrong = sorted((o for o in outcomes if o.answered and not o.correct),
                   key=lambda o: -1.0 if o.confidence is None else -o.confidence)
    return [{
        "confidence": None if o.confidence is None else round(o.confidence, 3),
        "question": o.case.question,
        "answers": o.case.answers,
        "answerable": o.case.answerable,  # False: refusal was wanted (its passage is not indexed)
        "quote": o.excerpt,
        "article": o.article,
    } for o in wrong[:limit]]


def _share(count: float, total: int) -> float | None:
    return round(count / total, 4) if total else None


def evaluate(answerer: Answerer, cases: list[Case], cut: float | None = None, show_wrong: int = 0) -> dict:
    """The figures of ``python -m bot eval``; ``cut`` defaults to the answerer's own; with
    ``show_wrong``, that many of the quotations shown without the answer (``wrong_quotes``)."""
    cut = answerer.min_confidence if cut is None else cut
    saved, answerer.min_confidence = answerer.min_confidence, 0.0
    try:
        outcomes, skipped = ask_all(answerer, cases, cut)
    finally:
        answerer.min_confidence = saved
    answerable = [o for o in outcomes if o.case.answerable]
    located = [o for o in answerable if o.case.context]
    lengths = [len(o.excerpt) for o in outcomes if o.answered and o.excerpt]
    latencies = [o.latency_ms for o in outcomes]
    figures = refusal_figures(outcomes)
    results = {
        "questions": len(outcomes),
        "skipped_empty": skipped,
        "passage_recall@1": _share(sum(o.rank is not None and o.rank < 1 for o in located), len(located)),
        "passage_recall@5": _share(sum(o.rank is not None and o.rank < 5 for o in located), len(located)),
        "mrr@10": _share(sum(1 / (o.rank + 1) for o in located if o.rank is not None), len(located)),
        "excerpt_hit@1": _share(sum(o.correct for o in answerable), len(answerable)),
        "answer_hit@1": _share(sum(o.answer_hit for o in answerable), len(answerable)),
        "mean_excerpt_chars": round(statistics.fmean(lengths), 1) if lengths else None,
        "answerable_answered": figures["answered"],
        "unanswerable_refused": figures["refused"],
        "confident_wrong": figures["confident_wrong"],
        "min_confidence": round(cut, 4),
        "latency_ms_p50": round(_percentile(latencies, 0.5), 1),
        "latency_ms_p95": round(_percentile(latencies, 0.95), 1),
        "fusion": answerer.settings.fusion,
    }
    if any(o.confidence is not None for o in outcomes) and figures["refused"] is not None:
        results["trade_off"] = {f"{c:.1f}": refusal_figures(outcomes, c) for c in CUTS}
    if show_wrong:
        results["wrong_quotes"] = wrong_quotes(outcomes, show_wrong)
    return results


def refusal_cases(cases: list[Case], contexts: list[str]) -> tuple[set[str], list[Case]]:
    """The refusal protocol of ../shared/bench/README.md: contexts 1, 3, 5, … (in file order)
    are indexed, the others removed; every question is still asked. Returns the removed ones."""
    kept = set(contexts[0::2])
    return set(contexts) - kept, [replace(c, indexed=c.context in kept) for c in cases]


def subset_index(full: KnowledgeIndex, drop_urls: set[str], index_dir: Path) -> Path:
    """An index of a built index's passages but those of ``drop_urls``, reusing its vectors
    (nothing encoded)."""
    rows = [i for i, p in enumerate(full.passages) if p.url not in drop_urls]
    passages = [full.passages[i] for i in rows]
    dimension = full.manifest.dimension
    sentences = [full.sentence_vectors_of(i) for i in rows]
    manifest = replace(
        full.manifest, passages=len(rows), articles=len({p.article_id for p in passages}),
        sentences=sum(len(p.sentences) for p in passages), skipped=[],
    )
    return write_index(
        index_dir, manifest, passages, full.vectors[rows],
        np.vstack(sentences) if sentences else np.zeros((0, dimension), dtype=np.float32),
        [lexical.tokens(p.title + " " + p.text) for p in passages],
    )


def prepare_squad(file: Path, progress: bool = True) -> tuple[Path, list[Case], list[str]]:
    """Build (or reuse) the index of a SQuAD file's contexts; its questions and context ids."""
    settings = IndexSettings.from_env()
    folder, cases = squad_corpus(file, settings.cache_dir)
    eval_settings = replace(settings, corpus_dir=folder / "corpus", index_dir=folder / "index")
    report = build_index(eval_settings, progress=progress)
    log.info("evaluation corpus: %s", report.summary())
    lines = (folder / "corpus" / "contexts.jsonl").read_text(encoding="utf-8").splitlines()
    contexts = [json.loads(line)["url"] for line in lines if line.strip()]
    return eval_settings.index_dir, cases, contexts


def prepare_distracted(corpus_dir: Path, distractors: Path, progress: bool = True) -> Path:
    """An index of a corpus mixed into unrelated articles (the distractor protocol of
    ../shared/bench/README.md): the corpus's files and the distractor file, copied together."""
    settings = IndexSettings.from_env()
    files = sorted(p for p in Path(corpus_dir).rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files + [Path(distractors)]:
        digest.update(path.name.encode() + hashlib.sha256(path.read_bytes()).digest())
    folder = settings.cache_dir / "eval" / f"distracted-{digest.hexdigest()[:16]}"
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = corpus / "corpus" / path.relative_to(corpus_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    shutil.copyfile(distractors, corpus / f"distractors-{Path(distractors).name}")
    eval_settings = replace(settings, corpus_dir=corpus, index_dir=folder / "index")
    log.info("corpus with distractors: %s", build_index(eval_settings, progress=progress).summary())
    return eval_settings.index_dir


def prepare_refusal(
    file: Path, progress: bool = True, distractors: Path | None = None,
) -> tuple[Path, list[Case]]:
    """The refusal protocol's index; with ``distractors``, inside that archive (both protocols
    at once: the removed contexts' questions then also meet thousands of unrelated articles)."""
    index_dir, cases, contexts = prepare_squad(file, progress)
    removed, cases = refusal_cases(cases, contexts)
    if distractors:
        index_dir = prepare_distracted(index_dir.parent / "corpus", distractors, progress)
    refusal_dir = index_dir.parent / "refusal-index"
    subset_index(load_index(index_dir), removed, refusal_dir)
    return refusal_dir, cases


def after_articles(cases: list[Case], skip: int) -> list[Case]:
    """The questions of every article after the first ``skip`` (in file order): the part of a
    file that the models were not fitted on (see bench/train_confidence.py)."""
    order = {a: i for i, a in enumerate(dict.fromkeys(c.article for c in cases))}
    return [c for c in cases if order[c.article] >= skip]


def run(file: Path, index_dir: Path, as_json: bool, answerer_factory=Answerer.load,
        refusal: bool = False, distractors: Path | None = None, skip_articles: int = 0, show_wrong: int = 0) -> int:
    for given in [file] + ([distractors] if distractors else []):
        if not given.is_file():
            print(f"error: {given} does not exist", file=sys.stderr)
            return 2
    if refusal and IndexSettings.from_env().backend != "faiss":
        print("error: --refusal cuts a subset out of a FAISS index: run it with INDEX_BACKEND=faiss", file=sys.stderr)
        return 2
    if refusal and file.suffix.lower() != ".json":
        print("error: --refusal takes a SQuAD-format .json file", file=sys.stderr)
        return 2
    if refusal:
        index_dir, cases = prepare_refusal(file, progress=not as_json, distractors=distractors)
    elif file.suffix.lower() == ".json":
        index_dir, cases, _ = prepare_squad(file, progress=not as_json)
        if distractors:
            index_dir = prepare_distracted(index_dir.parent / "corpus", distractors, progress=not as_json)
    else:
        cases = load_jsonl_cases(file)
        if distractors:
            index_dir = prepare_distracted(IndexSettings.from_env().corpus_dir, distractors, progress=not as_json)
    if skip_articles:
        cases = after_articles(cases, skip_articles)
    answerer = answerer_factory(index_dir)
    results = evaluate(answerer, cases, show_wrong=show_wrong)
    if as_json:
        print(json.dumps(results, ensure_ascii=False))
        return 0
    trade_off = results.pop("trade_off", None)
    wrong = results.pop("wrong_quotes", None)
    for name, value in results.items():
        print(f"{name:22} {value}")
    if trade_off:
        print("\ntrade-off (MIN_CONFIDENCE: answered / answered right / refused / confident wrong)")
        for cut, figures in trade_off.items():
            print(f"  {cut}  " + " / ".join(str(v) for v in figures.values()))
    if wrong is not None:
        print(f"\nquoted without the answer at MIN_CONFIDENCE {results['min_confidence']}, most confident first "
              f"({len(wrong)} shown)")
        for item in wrong:
            asked = " / ".join(item["answers"]) or "-"
            if not item["answerable"]:
                asked += " (not in the corpus: refusal wanted)"
            print(f"  {item['confidence']}  {item['question']}\n      answer: {asked}\n"
                  f"      quoted: {item['quote']} ({item['article']})")
    return 0
