"""Re-train the answer-span scorer from ../shared/bench and print its held-out figures.

    .venv/bin/python bench/train_answer_span.py [--bench DIR] [--reuse] [--dry-run]

Data: every question of the four SQuAD-format files, asked of its gold passage; the excerpt
is the one the shipped ranker picks there. When that excerpt holds a gold answer, each
candidate slice (``bot.answer_span.candidates``) is labelled by the "answer hit" rule: it
overlaps the gold answer and is at most three times its length.

Split by article as for the excerpt ranker (fit: first half of CMRC's and DRCD's articles,
XQuAD's first 12; the rest is held out). The slices are ordered by LightGBM lambdarank; the
best one's score and lead (and the question's script) are calibrated into a probability (Platt scaling on out-of-fold
scores), and the marking threshold is the lowest probability at which ``PRECISION`` of the
spans marked out of fold are answer hits.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batched_queries import BatchedQueries  # noqa: E402
from gold_passages import FILES, cached_groups, gold_questions, training_arguments  # noqa: E402
from bot.answer_span import (  # noqa: E402
    FEATURES, MODEL_PATH, RETRAIN, AnswerSpanModel, lead, span_table, top_score,
)
from bot.entity_tags import excerpt_tags  # noqa: E402
from bot.evaluate import answer_hit  # noqa: E402
from bot.excerpt import ExcerptRanker, select_excerpts  # noqa: E402
from bot.highlight import highlight_spans, question_words  # noqa: E402
from bot.tree_ranker import TreeRanker, fit_lambdarank  # noqa: E402
from embeddings.config import IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from embeddings.text import normalise  # noqa: E402

PRECISION = 0.6
log = logging.getLogger("train_answer_span")


def gather(bench: Path, encoder: BatchedQueries, file: str, reuse: bool) -> list[dict]:
    def make() -> list[dict]:
        ranker = ExcerptRanker.load()
        groups = []
        for asked in gold_questions(bench, file, encoder):
            passage, row, question, case = asked.passage, asked.row, asked.question, asked.case
            excerpt = select_excerpts(
                [(passage, asked.index.sentence_vectors_of(row), asked.retriever.sentence_terms(row))],
                asked.query_vector, question, asked.retriever.weights, ranker,
            )[0]
            text = passage.text[excerpt.start : excerpt.end]
            holds = any(normalise(a) in normalise(text) for a in case.answers if a.strip())
            words = excerpt_tags(passage.id, passage.text, excerpt.start, excerpt.end)
            spans, table = span_table(text, question, highlight_spans(text, question_words(question)), words)
            groups.append({
                "file": file, "article": case.article, "held_out": asked.held_out, "holds": holds,
                "latin": question.script == "latin", "features": table.round(5).tolist(),
                "labels": [int(answer_hit(text, (s.start, s.end), case.answers)) for s in spans],
            })
        return groups

    return cached_groups("span", file, reuse, make)


def out_of_fold(groups: list[dict]) -> list[np.ndarray]:
    """Each fitting question's slices scored by a ranker that did not see its article."""
    from sklearn.model_selection import GroupKFold

    scores: list[np.ndarray] = [np.zeros(0)] * len(groups)
    articles = [f"{g['file']}|{g['article']}" for g in groups]
    for train, valid in GroupKFold(n_splits=3).split(groups, groups=articles):
        ranker = fit([groups[i] for i in train])
        for i in valid:
            if groups[i]["labels"]:
                scores[i] = ranker.scores(np.array(groups[i]["features"]), FEATURES)
    return scores


def fit(groups: list[dict]) -> TreeRanker:
    usable = [g for g in groups if g["holds"] and any(g["labels"])]
    return fit_lambdarank([(np.array(g["features"]), g["labels"]) for g in usable], FEATURES)


def best_of(groups: list[dict], scores: list[np.ndarray], model: AnswerSpanModel) -> tuple[np.ndarray, np.ndarray]:
    """Each question's best slice: its probability and whether it is an answer hit."""
    probability, hit = np.zeros(len(groups)), np.zeros(len(groups), dtype=bool)
    for i, (g, s) in enumerate(zip(groups, scores)):
        if len(s):
            probability[i], hit[i] = model.probability(s, g["latin"]), bool(g["labels"][int(np.argmax(s))])
    return probability, hit


def main(argv: list[str] | None = None) -> int:
    args = training_arguments(__doc__, argv)
    configure_logging()
    encoder = BatchedQueries(Encoder(IndexSettings.from_env()))
    groups = [g for file in FILES for g in gather(args.bench, encoder, file, args.reuse)]
    fitting = [g for g in groups if not g["held_out"]]
    # Platt scaling on out-of-fold scores: the best slice's score and lead -> P(answer hit)
    oof = out_of_fold(fitting)
    scored = [(g, s) for g, s in zip(fitting, oof) if len(s)]
    top = np.array([[top_score(s), lead(s), g["latin"]] for g, s in scored])
    label = np.array([g["labels"][int(np.argmax(s))] for g, s in scored])
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6, max_iter=1000).fit(top, label)
    ranker = fit(fitting)
    ranker.settings = {
        "slope_top": float(platt.coef_[0][0]), "slope_margin": float(platt.coef_[0][1]),
        "slope_latin": float(platt.coef_[0][2]), "intercept": float(platt.intercept_[0]), "min_probability": 0.0,
    }
    model = AnswerSpanModel(ranker)
    probability, hit = best_of(fitting, oof, model)
    cut = 0.0
    for candidate in np.arange(0.0, 1.0, 0.01):
        marked = probability >= candidate
        if marked.any() and hit[marked].mean() >= PRECISION:
            cut = float(candidate)
            break
    ranker.settings["min_probability"] = cut
    model = AnswerSpanModel(ranker)
    report: dict = {
        "min_probability": round(cut, 2), "calibration": {k: round(v, 4) for k, v in ranker.settings.items()},
        "fit_out_of_fold": {"best_slice_hit": round(float(hit.mean()), 4),
                            "answer_hit": round(float((hit & (probability >= cut)).mean()), 4)},
    }
    for file in FILES:
        chosen = [g for g in groups if g["file"] == file and g["held_out"]]
        scores = [ranker.scores(np.array(g["features"]), FEATURES) if g["labels"] else np.zeros(0) for g in chosen]
        probability, hit = best_of(chosen, scores, model)
        marked = probability >= cut
        holds = np.array([g["holds"] for g in chosen])
        report[f"held_out:{file}"] = {
            "questions": len(chosen),
            "answer_hit": round(float((marked & hit).mean()), 4),
            "answer_hit_when_excerpt_holds": round(float((marked & hit)[holds].mean()), 4),
            "best_slice_hit_unmarked_too": round(float(hit[holds].mean()), 4),
            "marked": round(float(marked.mean()), 4),
            "marked_right": round(float(hit[marked].mean()), 4) if marked.any() else None,
        }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if not args.dry_run:
        ranker.about = {
            "fitted_on": "first half of the articles of cmrc2018_trial and drcd_dev_simplified, first 12 of "
                         "xquad_dev_en/zh; the ranker's excerpt of each question's gold passage",
            "calibration_and_min_probability_chosen_on": "3-fold out-of-fold scores of the fitting data: "
                                                         f"{PRECISION} of marked spans are answer hits",
            "held_out_figures": report,
            "command": RETRAIN,
        }
        ranker.save(MODEL_PATH)
        print(f"written to {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
