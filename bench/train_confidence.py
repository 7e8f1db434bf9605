"""Re-train the confidence model from ../shared/bench and print its held-out figures.

    .venv/bin/python bench/train_confidence.py [--bench DIR] [--reuse] [--dry-run] [--archive JSONL]

Data (the refusal protocol of ../shared/bench/README.md): each file's contexts 1, 3, 5, … are
indexed and every question is asked; a question's label is whether its first excerpt holds a
gold answer. Questions about removed contexts are the hard negatives (same article, answer
absent); the same questions asked against the shipped Panjin page are the easy ones.

Split, so that no figure printed as "held-out" comes from data the model was fitted on:
- fit: DRCD dev, first half of its articles; XQuAD (English and Chinese questions), its first
  12 articles;
- held out: CMRC's and DRCD's second halves, XQuAD's last 12 articles. CMRC's first half is
  neither: the answer-span model, whose probability is a feature, was fitted on it.
The default cut (MIN_CONFIDENCE) is chosen on out-of-fold predictions of the fitting data
(5 folds grouped by article): the highest cut that still answers 0.95 of its answerable
questions. The held-out figures are then read at that cut.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batched_queries import BatchedQueries  # noqa: E402
from bot.answering import Answerer  # noqa: E402
from bot.confidence import MODEL_PATH, ConfidenceModel  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.evaluate import Case, prepare_refusal  # noqa: E402
from embeddings.build import build_index  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.index_store import load_index  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from embeddings.text import normalise  # noqa: E402

FILES = ("xquad_dev_en", "xquad_dev_zh", "cmrc2018_trial", "drcd_dev_simplified")
TARGET_ANSWERED = 0.95
EASY_PER_FILE = 400  # questions of each file also asked against the unrelated Panjin page
log = logging.getLogger("train_confidence")


def held_out(file: str, article_order: dict[str, int], article: str) -> bool:
    """CMRC's first half is neither fitted on nor held out: the answer-span model (whose
    probability is a feature) was fitted on it."""
    order = article_order[article]
    if file.startswith("xquad"):
        return order >= 12
    return order >= len(article_order) // 2


def collect(answerer: Answerer, cases: list[Case], file: str, kind: str, split) -> list[dict]:
    answerer.encoder.prepare([c.question for c in cases])
    rows = []
    for case in cases:
        if not case.question.strip():
            continue
        answer = answerer.answer(case.question, top_k=3)
        if answer.evidence is None:  # a question with nothing to search for: always refused
            continue
        first = answer.hits[0].excerpt if answer.hits else ""
        gold = [normalise(a) for a in case.answers]
        rows.append({
            "file": file, "kind": kind, "article": case.article, "held_out": split(case.article),
            "answerable": kind == "indexed", "label": int(any(g and g in normalise(first) for g in gold)),
            "question": case.question, "excerpt": first, "features": answer.evidence.values,
        })
    return rows


def gather(
    bench: Path, encoder: Encoder, files: list[str], reuse: bool, distractors: Path | None = None,
) -> list[dict]:
    """Every file's rows, from its cache (``--reuse``) or by asking its questions again; with
    ``distractors``, the refusal protocol inside that archive (no unrelated-corpus rows)."""
    settings = IndexSettings.from_env()
    panjin = replace(
        settings, corpus_dir=PROJECT_ROOT / "corpus", index_dir=settings.cache_dir / "eval" / "panjin-index",
    )
    unrelated = None
    rows: list[dict] = []
    inside = f"in-{Path(distractors).stem}-" if distractors else ""
    for file in files:
        cached = settings.cache_dir / "eval" / f"confidence-features-{inside}{file}.jsonl"
        if reuse and cached.is_file():
            rows += [json.loads(line) for line in cached.read_text(encoding="utf-8").splitlines()]
            continue
        if unrelated is None:
            build_index(panjin, progress=False, encoder=encoder.encoder)
            unrelated = Answerer(load_index(panjin.index_dir), encoder, AnswerSettings(), confidence=None)
        started = time.perf_counter()
        file_rows: list[dict] = []
        refusal_dir, cases = prepare_refusal(bench / f"{file}.json", progress=False, distractors=distractors)
        order = {a: i for i, a in enumerate(dict.fromkeys(c.article for c in cases))}
        split = lambda article, file=file, order=order: held_out(file, order, article)  # noqa: E731
        answerer = Answerer(load_index(refusal_dir), encoder, AnswerSettings(), confidence=None)
        indexed = [c for c in cases if c.indexed]
        removed = [c for c in cases if not c.indexed]
        file_rows += collect(answerer, indexed, file, "indexed", split)
        file_rows += collect(answerer, removed, file, "removed", split)
        sample = [] if distractors else cases[:: max(1, len(cases) // EASY_PER_FILE)][:EASY_PER_FILE]
        file_rows += collect(unrelated, sample, file, "unrelated", split)
        cached.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in file_rows), encoding="utf-8")
        log.info("%s: %d questions in %.0f s", file, len(cases) + len(sample), time.perf_counter() - started)
        rows += file_rows
    return rows


def matrix(rows: list[dict], names: list[str]) -> np.ndarray:
    return np.array([[row["features"].get(n, 0.0) for n in names] for row in rows], dtype=np.float64)


def cut_for(probabilities: np.ndarray, answerable: np.ndarray, target: float) -> float:
    """The highest cut at which ``target`` of the answerable questions are still answered."""
    scores = np.sort(probabilities[answerable])
    return float(scores[int(np.floor((1 - target) * len(scores)))]) if len(scores) else 0.5


def figures(rows: list[dict], probabilities: np.ndarray, cut: float) -> dict:
    shown = probabilities >= cut
    label = np.array([r["label"] for r in rows], dtype=bool)
    answerable = np.array([r["answerable"] for r in rows], dtype=bool)
    hard = np.array([r["kind"] == "removed" for r in rows], dtype=bool)
    easy = np.array([r["kind"] == "unrelated" for r in rows], dtype=bool)

    def share(mask_top, mask_all):
        return round(float(mask_top.sum()) / int(mask_all.sum()), 4) if mask_all.any() else None

    return {
        "answerable": int(answerable.sum()),
        "answered": share(shown & answerable, answerable),
        "excerpt_hit@1": share(label & answerable, answerable),
        "removed": int(hard.sum()),
        "refused": share(~shown & hard, hard),
        "confident_wrong": share(shown & hard & ~label, hard),
        "unrelated_refused": share(~shown & easy, easy),
    }


def calibration(rows: list[dict], probabilities: np.ndarray) -> dict[str, dict]:
    """Per band of predicted probability: how many rows, the mean prediction, and how often the
    first excerpt did hold the gold (a calibrated model has the two close)."""
    labels = np.array([r["label"] for r in rows], dtype=np.float64)
    bands = {}
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        high = low + 0.2 if low < 0.8 else np.inf  # the last band takes 1.0 too
        inside = (probabilities >= low) & (probabilities < high)
        if inside.any():
            bands[f"{low:.1f}-{low + 0.2:.1f}"] = {
                "rows": int(inside.sum()), "predicted": round(float(probabilities[inside].mean()), 3),
                "held": round(float(labels[inside].mean()), 3),
            }
    return bands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "bench")
    parser.add_argument("--reuse", action="store_true", help="reuse the features of the last run")
    parser.add_argument("--files", nargs="+", default=list(FILES), choices=FILES, help="gather these only")
    parser.add_argument("--dry-run", action="store_true", help="print the figures, do not write the model")
    parser.add_argument("--compare", action="store_true", help="also print gradient boosting's figures")
    parser.add_argument("--archive", type=Path, metavar="JSONL",
                        help="also report the held-out halves inside this archive (never fitted on)")
    args = parser.parse_args(argv)
    configure_logging()
    logging.getLogger("train_confidence").setLevel(logging.INFO)
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    encoder = BatchedQueries(Encoder(IndexSettings.from_env()))
    rows = gather(args.bench, encoder, args.files, args.reuse)

    names = sorted(rows[0]["features"])
    fit = [r for r in rows if not r["held_out"] and r["file"] != "cmrc2018_trial"]
    test = [r for r in rows if r["held_out"]]
    x = matrix(fit, names)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    # Stage 1 ranks by answerability: positives are questions whose passage is indexed (or whose
    # first excerpt holds the gold anyway), negatives the removed-context and unrelated ones.
    # (Fitting "first excerpt holds the gold" directly refused less at the same answered share:
    # 0.75 vs 0.78 of the removed-context questions, out of fold on the fitting data.)
    answerable = np.array([r["answerable"] or r["label"] for r in fit], dtype=int)
    # Stage 2 (Platt scaling of stage 1's logit) turns the rank into the probability that the
    # first excerpt holds the answer, which is what the confidence promises.
    holds = np.array([r["label"] for r in fit], dtype=int)

    def model(boosted: bool = False):
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05) if boosted else (
            LogisticRegression(C=1.0, max_iter=5000))

    def out_of_fold(boosted: bool = False) -> np.ndarray:
        """Stage-1 logits for every fitting row from a model that did not see its article."""
        groups = [f"{r['file']}|{r['article']}" for r in fit]
        logits = np.zeros(len(fit))
        for train, valid in GroupKFold(n_splits=5).split(z, answerable, groups):
            p = model(boosted).fit(z[train], answerable[train]).predict_proba(z[valid])[:, 1]
            logits[valid] = np.log(np.clip(p, 1e-9, 1)) - np.log(np.clip(1 - p, 1e-9, 1))
        return logits

    answerable_fit = np.array([r["answerable"] for r in fit], dtype=bool)
    oof_logits = out_of_fold()
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof_logits.reshape(-1, 1), holds)
    slope, offset = float(platt.coef_[0][0]), float(platt.intercept_[0])

    def calibrated(logits: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(slope * logits + offset)))

    oof = calibrated(oof_logits)
    cut = cut_for(oof, answerable_fit, TARGET_ANSWERED)
    final = model().fit(z, answerable)
    # one logistic model: the calibration folds into its coefficients
    coefficients = final.coef_[0] * slope
    intercept = float(final.intercept_[0]) * slope + offset

    report = {"cut": round(cut, 4), "fit_out_of_fold": figures(fit, oof, cut)}
    if args.compare:
        boosted = calibrated(out_of_fold(boosted=True))
        report["compare_boosted_out_of_fold"] = figures(fit, boosted, cut_for(boosted, answerable_fit, TARGET_ANSWERED))
    def held_out_figures(test: list[dict], prefix: str) -> None:
        probabilities = 1 / (1 + np.exp(-((matrix(test, names) - mean) / scale @ coefficients + intercept)))
        for file in FILES:
            picked = [i for i, r in enumerate(test) if r["file"] == file]
            if picked:
                report[f"{prefix}:{file}"] = figures([test[i] for i in picked], probabilities[picked], cut)
        report[f"{prefix}_calibration"] = calibration(test, probabilities)

    held_out_figures(test, "held_out")
    if args.archive:  # the same halves among unrelated articles: does the probability still hold?
        archived = gather(args.bench, encoder, args.files, args.reuse, distractors=args.archive)
        held_out_figures([r for r in archived if r["held_out"]], "held_out_in_archive")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if not args.dry_run:
        about = {
            "fitted_on": "drcd_dev_simplified (first half of its articles), xquad_dev_en and xquad_dev_zh "
                         "(first 12 articles); refusal protocol + questions against the Panjin page",
            "cut_chosen_on": "5-fold out-of-fold predictions of the fitting data, grouped by article: "
                             f"{TARGET_ANSWERED} of answerable questions answered",
            "held_out_figures": report,
            "command": "python bench/train_confidence.py",
        }
        ConfidenceModel(names, mean, scale, coefficients, intercept, {"min_confidence": cut}, about).save(MODEL_PATH)
        print(f"written to {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
