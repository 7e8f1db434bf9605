"""Re-train the excerpt ranker from ../shared/bench and print its held-out figures.

    .venv/bin/python bench/train_excerpt_ranker.py [--bench DIR] [--reuse] [--dry-run]

Data: every question of the four SQuAD-format files, asked of its own (gold) passage; each
candidate window of that passage (``bot.excerpt.candidate_windows``) is labelled by whether it
holds a gold answer. Questions whose answer no window holds (it spans two sentences that do
not fit together) are left out of the fit and counted as misses in the figures.

Split by article, so that no figure printed as "held-out" comes from fitted data:
- fit: the first half of the articles of cmrc2018_trial and drcd_dev_simplified, the first 12
  of XQuAD's 24 (English and Chinese questions);
- held out: the other halves (``python -m bot eval FILE --skip-articles N`` asks just those).
The ranker is LightGBM's lambdarank (100 small trees). Its size, and whether each file weighs
the same, are chosen on out-of-fold scores of the fitting data (3 folds grouped by article), and
so is the length penalty (a cost per character past a free allowance; both chosen): the pair
with the best excerpt hit@1 among those whose mean excerpt is at most ``TARGET_CHARS`` characters.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batched_queries import BatchedQueries  # noqa: E402
from gold_passages import FILES, cached_groups, gold_questions, gold_windows, training_arguments  # noqa: E402
from bot.excerpt import FEATURES, MODEL_PATH, RETRAIN, length_cost  # noqa: E402
from bot.tree_ranker import TreeRanker, fit_lambdarank  # noqa: E402
from embeddings.config import IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402

TARGET_CHARS = 76.0  # on gold passages; excerpts of other passages (retrieval misses) run longer
PENALTIES = tuple(round(0.1 * i, 2) for i in range(0, 41))
FREE_CHARS = (0.0, 40.0, 60.0)  # characters a window has before its length costs anything
TREES = 100  # 200 gained nothing out of fold
# (leaves, min samples per leaf, files weighed equally): the one with the best out-of-fold hit
CONFIGS = [(leaves, child, balanced) for leaves in (7, 15) for child in (20, 50) for balanced in (False, True)]
log = logging.getLogger("train_excerpt_ranker")


def gather(bench: Path, encoder: BatchedQueries, file: str, reuse: bool) -> list[dict]:
    """One group per question: its windows' features, labels and lengths (cached per file)."""
    def make() -> list[dict]:
        started = time.perf_counter()
        groups = []
        for asked in gold_questions(bench, file, encoder):
            windows, table, labels = gold_windows(asked)
            groups.append({
                "file": file, "article": asked.case.article, "held_out": asked.held_out,
                "features": table.round(5).tolist(), "labels": labels,
                "chars": [w.end - w.start for w in windows],
            })
        log.info("%s: %d questions in %.0f s", file, len(groups), time.perf_counter() - started)
        return groups

    return cached_groups("excerpt", file, reuse, make)


def choose(groups: list[dict], scores: list[np.ndarray], length: tuple[float, float]) -> tuple[float, float]:
    """Excerpt hit@1 and mean excerpt characters when each group takes its best window;
    ``length`` is (penalty, free characters)."""
    hits, chars = [], []
    for group, score in zip(groups, scores):
        size = np.array(group["chars"], dtype=np.float64)
        best = int(np.argmax(score - length_cost(size, *length)))
        hits.append(group["labels"][best])
        chars.append(size[best])
    return float(np.mean(hits)), float(np.mean(chars))


def fit_ranker(groups: list[dict], leaves: int, min_child: int, balanced: bool, **settings) -> TreeRanker:
    """Lambdarank over the windows of each question (a group); small on purpose.
    ``balanced``: each file weighs the same in all (DRCD has four times CMRC's questions);
    ``settings``: other LightGBM parameters (bench/plateau_checks.py tries some)."""
    groups = [g for g in groups if any(g["labels"])]
    per_file = {f: sum(g["file"] == f for g in groups) for f in FILES}
    weights = np.concatenate([
        np.full(len(g["labels"]), len(groups) / (len(per_file) * per_file[g["file"]]) if balanced else 1.0)
        for g in groups
    ])
    return fit_lambdarank(
        [(np.array(g["features"]), g["labels"]) for g in groups], FEATURES, leaves, min_child, TREES, weights,
        **settings,
    )


def out_of_fold(groups: list[dict], config: tuple) -> list[np.ndarray]:
    """Each fitting question scored by a ranker that did not see its article (3 folds)."""
    from sklearn.model_selection import GroupKFold

    scores: list[np.ndarray] = [np.zeros(0)] * len(groups)
    articles = [f"{g['file']}|{g['article']}" for g in groups]
    for train, valid in GroupKFold(n_splits=3).split(groups, groups=articles):
        booster = fit_ranker([groups[i] for i in train], *config)
        for i in valid:
            scores[i] = booster.scores(np.array(groups[i]["features"]), FEATURES)
    return scores


def penalty_for(groups: list[dict], scores: list[np.ndarray]) -> tuple[tuple[float, float], dict]:
    """The length penalty and free characters with the best hit@1 at a mean of at most ``TARGET_CHARS``."""
    grid = {(penalty, free): choose(groups, scores, (penalty, free)) for free in FREE_CHARS for penalty in PENALTIES}
    allowed = [p for p, (_, chars) in grid.items() if chars <= TARGET_CHARS] or [(max(PENALTIES), 0.0)]
    return max(allowed, key=lambda p: grid[p][0]), grid


def macro_hit(groups: list[dict], scores: list[np.ndarray], penalty: tuple[float, float]) -> float:
    """Excerpt hit@1 averaged over the files (each file counts the same)."""
    return float(np.mean([
        choose([g for g in groups if g["file"] == f], [s for g, s in zip(groups, scores) if g["file"] == f], penalty)[0]
        for f in FILES
    ]))


def main(argv: list[str] | None = None) -> int:
    args = training_arguments(__doc__, argv)
    configure_logging()
    log.setLevel(logging.INFO)
    encoder = BatchedQueries(Encoder(IndexSettings.from_env()))
    groups = [g for file in FILES for g in gather(args.bench, encoder, file, args.reuse)]
    fit = [g for g in groups if not g["held_out"]]
    tried = {}
    for config in CONFIGS:  # chosen out of fold on the fitting data, never on the held-out part
        scores = out_of_fold(fit, config)
        penalty, grid = penalty_for(fit, scores)
        tried[config] = (macro_hit(fit, scores, penalty), penalty, grid)
        log.info(
            "leaves, min child, balanced %s: out-of-fold macro hit@1 %.4f (length penalty, free chars %s)",
            config, tried[config][0], penalty,
        )
    config = max(tried, key=lambda c: tried[c][0])
    _, penalty, grid = tried[config]
    booster = fit_ranker(fit, *config)
    report: dict = {
        "config": {"leaves": config[0], "min_child_samples": config[1], "file_balanced": config[2]},
        "length_penalty": penalty[0],
        "free_chars": penalty[1],
        "fit_out_of_fold_macro_hit": {str(c): round(v[0], 4) for c, v in tried.items()},
        "fit_out_of_fold_grid": {
            f"{p} per char over {f:.0f}": [round(h, 4), round(c, 1)] for (p, f), (h, c) in grid.items()
        },
    }
    for file in FILES:
        chosen = [g for g in groups if g["file"] == file and g["held_out"]]
        hit, chars = choose(chosen, [booster.scores(np.array(g["features"]), FEATURES) for g in chosen], penalty)
        report[f"held_out:{file}"] = {
            "questions": len(chosen), "excerpt_hit@1_gold_passage": round(hit, 4), "mean_chars": round(chars, 1),
            "reachable": round(float(np.mean([any(g["labels"]) for g in chosen])), 4),
        }
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if not args.dry_run:
        about = {
            "fitted_on": "first half of the articles of cmrc2018_trial and drcd_dev_simplified, first 12 of "
                         "xquad_dev_en/zh; each question's gold passage, every candidate window labelled "
                         "by whether it holds a gold answer",
            "length_penalty_chosen_on": f"3-fold out-of-fold scores of the fitting data (grouped by article): "
                                        f"best hit@1 at mean <= {TARGET_CHARS} chars (penalty and free chars)",
            "held_out_figures": {k: v for k, v in report.items() if k.startswith("held_out")},
            "command": RETRAIN,
        }
        booster.settings, booster.about = {"length_penalty": penalty[0], "free_chars": penalty[1]}, about
        booster.save(MODEL_PATH)
        print(f"written to {MODEL_PATH} ({MODEL_PATH.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
