"""Should the reader choose the excerpt? Measured on gold passages, out of fold.

    .venv/bin/python bench/reader_excerpts.py [--bench DIR] [--top K]   # about 20 minutes on 2 cores

The bot shows each passage's best window by the excerpt ranker (``bot.excerpt``), then the reader
(``bot.reader``) reads that one window. Here the reader reads the ranker's first ``--top`` windows
of the question's own passage, and a window is chosen by ``ranker score + w × reader logit`` among
the ranker's first k (k = 1 is the shipped choice). Every question of the four files is asked.

Fitting data (where k and w are chosen): the excerpt ranker's fitting half, each question scored by
a ranker that did not see its article (3 folds, the shipped configuration and its length penalty
chosen again, as ``bench/train_excerpt_ranker.py`` does), and read by the reader's model that did
not read its article (``Reader.honest``; CMRC's first half was read by neither, so it gets their
mean, as every user question does). Held out: the other halves, the shipped ranker and the mean
logit, printed for the best (k, w) of the fitting data and for the one measured with the bot
(``bot.reader_choice``: the first 2 at w 0.5, within 0.001 of the best on the fitting half for a
third of the pairs read).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batched_queries import BatchedQueries  # noqa: E402
from gold_passages import FILES, gold_questions, gold_windows  # noqa: E402
from plateau_checks import SHIPPED  # noqa: E402
from train_excerpt_ranker import out_of_fold, penalty_for  # noqa: E402
from bot.excerpt import ExcerptRanker, length_cost  # noqa: E402
from bot.reader import article_group, shipped_reader  # noqa: E402
from bot.reader_choice import MEASURED_WINDOWS, READER_WEIGHT  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402

CHOICES = [(k, w) for k in (2, 3, 4, 6) for w in (0.1, 0.2, 0.3, 0.5, 1.0, 100.0)]  # w 100: the reader alone


def gather(bench: Path, encoder: BatchedQueries) -> list[dict]:
    """Each question's windows of its gold passage: features, texts, labels, lengths."""
    groups = []
    for file in FILES:
        for asked in gold_questions(bench, file, encoder):
            windows, table, labels = gold_windows(asked)
            groups.append({
                "file": file, "article": asked.case.article, "held_out": asked.held_out,
                "question": asked.question.simplified, "features": table, "labels": labels,
                "texts": [asked.passage.text[w.start : w.end] for w in windows],
                "chars": np.array([w.end - w.start for w in windows], dtype=np.float64),
            })
    return groups


def rank(groups: list[dict]) -> None:
    """``rank_score``: out of fold for the fitting half, the shipped ranker's for the held-out half."""
    fit = [g for g in groups if not g["held_out"]]
    as_lists = [{**g, "features": g["features"].tolist()} for g in fit]
    scores = out_of_fold(as_lists, SHIPPED)
    penalty, _ = penalty_for(as_lists, scores)
    for group, score in zip(fit, scores):
        group["rank_score"] = score - length_cost(group["chars"], *penalty)
    ranker = ExcerptRanker.load()
    for group in groups:
        if group["held_out"]:
            group["rank_score"] = ranker.scores(group["features"])


def read(groups: list[dict], encoder: BatchedQueries, top: int) -> None:
    """``logit``: the reader's for the ranker's first ``top`` windows (honest on the fitting half)."""
    reader = shipped_reader()
    started = time.perf_counter()
    for n, group in enumerate(groups):
        first = np.argsort(-group["rank_score"], kind="stable")[:top]
        logits = reader.logits(*encoder.pair_states(group["question"], [group["texts"][i] for i in first],
                                                    reader.max_tokens))
        fold = None if group["held_out"] else reader.fold_of_article.get(article_group(group["file"], group["article"]))
        group["first"], group["logit"] = first, logits[:, fold] if fold is not None else logits.mean(axis=1)
        if n % 1000 == 0:
            print(f"read {n} of {len(groups)} questions ({time.perf_counter() - started:.0f} s)", flush=True)


def figures(groups: list[dict], k: int, w: float) -> dict[str, tuple[float, float]]:
    """Per file: excerpt hit@1 and mean characters of the window chosen among the first k."""
    out = {}
    for file in FILES:
        chosen = []
        for group in (g for g in groups if g["file"] == file):
            first = group["first"][:k]
            best = first[int(np.argmax(group["rank_score"][first] + w * group["logit"][:k]))]
            chosen.append((group["labels"][best], group["chars"][best]))
        if chosen:
            out[file] = (round(float(np.mean([h for h, _ in chosen])), 4), round(float(np.mean([c for _, c in chosen])), 1))
    return out


def macro(found: dict[str, tuple[float, float]]) -> float:
    return round(float(np.mean([hit for hit, _ in found.values()])), 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "bench")
    parser.add_argument("--top", type=int, default=6, help="windows the reader reads per question")
    args = parser.parse_args(argv)
    encoder = BatchedQueries(Encoder(IndexSettings.from_env()))
    groups = gather(args.bench, encoder)
    rank(groups)
    read(groups, encoder, args.top)
    fit = [g for g in groups if not g["held_out"]]
    shipped = figures(fit, 1, 0.0)
    print(f"fitting half, out of fold (hit@1, mean chars per file; macro): the ranker alone {shipped} {macro(shipped)}")
    tried = {}
    for k, w in CHOICES:
        if k <= args.top:
            tried[(k, w)] = figures(fit, k, w)
            print(f"  first {k}, ranker + {w} × reader: {tried[(k, w)]} {macro(tried[(k, w)])}")
    k, w = max(tried, key=lambda c: macro(tried[c]))
    held = [g for g in groups if g["held_out"]]
    print(f"best on the fitting half: first {k}, w {w}")
    print(f"held out, the ranker alone: {figures(held, 1, 0.0)} {macro(figures(held, 1, 0.0))}")
    print(f"held out, first {k}, ranker + {w} × reader: {figures(held, k, w)} {macro(figures(held, k, w))}")
    k, w = MEASURED_WINDOWS, READER_WEIGHT
    print(f"the measured choice (bot.reader_choice), first {k}, ranker + {w} × reader (a third of the pairs of first 6): "
          f"fitting half {figures(fit, k, w)} {macro(figures(fit, k, w))}; held out {figures(held, k, w)} "
          f"{macro(figures(held, k, w))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
