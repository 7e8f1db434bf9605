"""Every question of a SQuAD-format file with its gold passage: the data both rankers learn from.

The split by article lives here too, so the excerpt ranker and the answer-span ranker are
fitted and held out on the same questions.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from batched_queries import BatchedQueries
from bot.evaluate import Case, prepare_squad
from bot.excerpt import Window, window_table
from bot.question import Question, parse_question
from bot.retrieval import HybridRetriever
from embeddings.config import PROJECT_ROOT, IndexSettings
from embeddings.documents import Passage
from embeddings.index_store import KnowledgeIndex, load_index
from embeddings.text import normalise

FILES = ("cmrc2018_trial", "drcd_dev_simplified", "xquad_dev_en", "xquad_dev_zh")


def fitted_articles(file: str, articles: int) -> int:
    """How many of a file's first articles (in file order) the rankers are fitted on."""
    return 12 if file.startswith("xquad") else articles // 2


@dataclass
class Asked:
    case: Case
    question: Question  # parsed, with its translations when it is English
    query_vector: np.ndarray
    row: int
    passage: Passage
    held_out: bool  # its article is not among those the rankers are fitted on
    index: KnowledgeIndex
    retriever: HybridRetriever


def gold_questions(bench: Path, file: str, encoder: BatchedQueries) -> Iterator[Asked]:
    index_dir, cases, _ = prepare_squad(bench / f"{file}.json", progress=False)
    index = load_index(index_dir)
    retriever = HybridRetriever(index)
    row_of = {p.url: i for i, p in enumerate(index.passages)}
    order = {a: i for i, a in enumerate(dict.fromkeys(c.article for c in cases))}
    fitted = fitted_articles(file, len(order))
    cases = [c for c in cases if c.question.strip() and c.context in row_of]
    encoder.prepare([c.question for c in cases])
    for case in cases:
        question = parse_question(case.question)
        retriever.translate(question, corpus_is_cjk=True)
        row = row_of[case.context]
        yield Asked(
            case, question, encoder.encode_query(question.simplified), row, index.passages[row],
            order[case.article] >= fitted, index, retriever,
        )


def gold_windows(asked: Asked) -> tuple[list[Window], np.ndarray, list[int]]:
    """The candidate windows of a question's gold passage, their features, and whether each holds a
    gold answer (the labels both the excerpt ranker and ``reader_excerpts.py`` learn and score on)."""
    passage, row = asked.passage, asked.row
    windows, table = window_table(
        passage, asked.index.sentence_vectors_of(row), asked.query_vector, asked.question,
        asked.retriever.weights, asked.retriever.sentence_terms(row),
    )
    gold = [normalise(a) for a in asked.case.answers if a.strip()]
    return windows, table, [int(any(g in normalise(passage.text[w.start : w.end]) for g in gold)) for w in windows]


def cached_groups(kind: str, file: str, reuse: bool, make: Callable[[], list[dict]]) -> list[dict]:
    """A file's training groups, from the last run's cache (``--reuse``) or made afresh."""
    cached = IndexSettings.from_env().cache_dir / "eval" / f"{kind}-features-{file}.json"
    if reuse and cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    groups = make()
    cached.write_text(json.dumps(groups, ensure_ascii=False), encoding="utf-8")
    return groups


def training_arguments(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The options every training script takes."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "bench")
    parser.add_argument("--reuse", action="store_true", help="reuse the features of the last run")
    parser.add_argument("--dry-run", action="store_true", help="print the figures, do not write the model")
    return parser.parse_args(argv)
