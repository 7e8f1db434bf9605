"""Fit the reader the bot ships (``bot/reader.py``): two models, one per fold of the fitting articles.

    .venv/bin/python bench/train_reader.py [--epochs 2] [--dry-run] [--with-cmrc] [--frozen 4 --dry-run]
                                           [--span-weight 0.5] [--answer-removed]

Needs the cache that ``bench/train_confidence.py`` writes (``--dry-run`` is enough); about 30 min.

The reader is ``bench/cross_reader.py --frozen 6``'s: the bundled encoder read as a cross-encoder
("query: question" / "passage: excerpt"), its lower 6 layers as they are, the upper 6 and a head
fitted to say whether the excerpt holds the answer. It is trained only on the confidence's fitting
half (DRCD's first half, XQuAD's first 12 articles; the fitting rows and the pairs made from the raw
files), split in two folds by article. Each fold's model never saw the other fold's articles, so
``bench/train_confidence.py`` gives a fitting row the logit of the model that did not read its
article (an honest feature to fit the confidence on), and the bot answers with the mean of the two.
``--with-cmrc`` (measured in the twentieth session, not shipped: README, "More pairs for the reader")
lets both models also read CMRC's first half, its rows and pairs made from it. The confidence is
neither fitted nor reported on it, so no fitting row's reading is made less honest by it. The folds
then differ, because they are drawn over CMRC's articles too. ``--frozen 4 --dry-run`` fits the
upper 8 layers instead of 6 and prints their out-of-fold AUCs (twenty-first session, not shipped:
README, "Eight fitted layers"); the bot reads pairs at layer ``FROZEN_LAYERS`` only.
``--span-weight`` also teaches the fitted layers where the answer is, as extractive readers are
taught: a span head beside the head points at the answer's first and last token (the pair's first
token when the excerpt lacks it), its loss added at that weight. Only the layers and the head are
kept, so the bot reads the result as it reads any reader. It also prints whether
the span head's no-answer margin (out of fold) adds to the confidence beside the reader's logit (twenty-second
session, neither kept: README, "Teaching the reader where the answer is").
``--answer-removed`` also gives each model the window that held an answer with the answer cut out,
as a negative (``bench/cross_reader.py``'s ``without_answer``; twenty-fifth session).

Writes ``bot/models/reader.npz`` (the fitted layers and heads; matrices in int8, one scale a row:
``bot.reader.packed``) and ``bot/models/reader.json`` (which articles each model read, and how the
reader reads).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train_confidence  # noqa: E402
from cross_reader import (  # noqa: E402
    MAX_TOKENS, Pair, Reader, answer_tokens, augmented, auc, cached_rows, confidence_protocol, excerpt_tokens,
    gold_answers, two_folds,
)
from bot.reader import FROZEN_LAYERS, MODEL_FILE, WEIGHTS_FILE, article_group, packed  # noqa: E402


CMRC = "cmrc2018_trial"


def as_pair(row: dict, answers: dict[tuple[str, str], tuple[str, ...]]) -> Pair:
    return Pair(row["question"], row["excerpt"], row["label"], article_group(row["file"], row["article"]),
                answers.get((row["file"], row["question"]), ()))


def compare_span_evidence(fit: list[dict], head_logit: np.ndarray, span_margin: np.ndarray) -> None:
    """Would the span head's no-answer margin add to the confidence, as a feature beside the
    reader's logit? Both out of fold, in ``bench/cross_reader.py``'s confidence protocol (the
    cached features, their own ``reader`` replaced by this run's out-of-fold logit)."""
    names = [n for n in sorted(fit[0]["features"]) if n != "reader"]
    x = train_confidence.matrix(fit, names)
    for label, extra in (("+ reader logit", [head_logit]), ("+ reader logit + span margin", [head_logit, span_margin])):
        refused, per_file = confidence_protocol(fit, np.hstack([x, np.array(extra).T]), 10)
        print(f"confidence, cached features {label}: refused {refused:.4f} at 0.95 answered "
              f"(out of fold, mean of 10 shufflings); per file {per_file}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="fit, but write nothing")
    parser.add_argument("--frozen", type=int, default=FROZEN_LAYERS,
                        help="the encoder's lower layers kept as they are (of 12), with --dry-run only: the bot "
                             f"reads pairs at layer {FROZEN_LAYERS} (measured: 4, README \"Eight fitted layers\")")
    parser.add_argument("--with-cmrc", action="store_true",
                        help="both models also read CMRC's first half (measured, not shipped)")
    parser.add_argument("--answer-removed", action="store_true",
                        help="also read each answer's window with the answer cut out, as a negative")
    parser.add_argument("--span-weight", type=float, default=0.0,
                        help="also teach the fitted layers where the answer is, as a span head beside the "
                             "head (its loss times this); only the layers and the head are kept")
    args = parser.parse_args(argv)
    if args.frozen != FROZEN_LAYERS and not args.dry_run:
        parser.error(f"--frozen {args.frozen} needs --dry-run: the bot reads pairs at layer {FROZEN_LAYERS}")
    warnings.filterwarnings("ignore")
    cached = cached_rows()
    fit = [r for r in cached if train_confidence.fitted_on(r)]
    answers = gold_answers(sorted({r["file"] for r in cached}))
    extra = augmented(np.random.RandomState(0), answer_removed=args.answer_removed)
    pairs = [as_pair(r, answers) for r in fit] + extra
    shared_from = len(pairs)  # the pairs after this one are read by both models
    print(f"{len(fit)} fitting rows and {len(extra)} pairs made from the fitting files", flush=True)
    if args.with_cmrc:
        cmrc_rows = [as_pair(r, answers) for r in cached if r["file"] == CMRC and not r["held_out"]
                     and r["kind"] in train_confidence.FITTED_KINDS]
        cmrc_made = augmented(np.random.RandomState(1), {CMRC: "half"})
        pairs += cmrc_rows + cmrc_made
        print(f"+ CMRC's first half, read by both models: {len(cmrc_rows)} rows and {len(cmrc_made)} made pairs",
              flush=True)

    reader = Reader(args.frozen)
    started = time.perf_counter()
    states = reader.states(pairs)
    print(f"the lower {args.frozen} layers' states: {time.perf_counter() - started:.0f} s", flush=True)
    labels = np.array([p.label for p in pairs], dtype=np.float32)
    spans = answer_tokens(reader.tokenizer, pairs) if args.span_weight else None
    if spans is not None:
        print(f"span taught for {int((spans[:, 0] > 0).sum())} of {int(labels.sum())} positive pairs "
              f"(span weight {args.span_weight})", flush=True)
    fold_of, fold = two_folds(pairs)
    read_by_both = np.arange(len(pairs)) >= shared_from
    shared_groups = {p.group for p in pairs[shared_from:]}
    fold_of = {group: k for group, k in fold_of.items() if group not in shared_groups}

    weights: dict[str, np.ndarray] = {}
    head_logit, span_margin = np.zeros(len(fit)), np.zeros(len(fit))
    excerpt = excerpt_tokens(reader.tokenizer, pairs[: len(fit)]) if spans is not None else None
    for k in (0, 1):
        train = np.flatnonzero((fold != k) | read_by_both)
        print(f"model {k}: {len(train)} training pairs", flush=True)
        upper, head, span_head = reader.fit(states, labels, train, args.epochs, spans, args.span_weight)
        rows = np.flatnonzero((fold == k)[: len(fit)])
        logits = reader.predict(upper, head, states, rows)
        head_logit[rows] = logits
        print(f"  AUC on the other fold's fitting rows: {auc(logits, labels[rows])}", flush=True)
        if span_head is not None:
            span_margin[rows] = reader.span_margins(upper, span_head, states, rows, excerpt)
            print(f"  the span head's no-answer margin alone: AUC {auc(span_margin[rows], labels[rows])}", flush=True)
        for i, layer in enumerate(upper):
            for name, value in layer.state_dict().items():
                weights[f"{k}.{i}.{name}"] = value.detach().numpy().astype(np.float16)
        weights[f"{k}.head.weight"] = head.weight.detach().numpy()[0].astype(np.float32)
        weights[f"{k}.head.bias"] = head.bias.detach().numpy().astype(np.float32)
    if spans is not None:
        compare_span_evidence(fit, head_logit, span_margin)
    if args.dry_run:
        return 0
    np.savez(WEIGHTS_FILE, **packed(weights))
    MODEL_FILE.write_text(json.dumps({
        "kind": "reader",
        "frozen_layers": FROZEN_LAYERS,
        "max_tokens": MAX_TOKENS,
        "models": 2,
        "weights_sha256": hashlib.sha256(WEIGHTS_FILE.read_bytes()).hexdigest(),
        "fold_of_article": fold_of,
        "trained_on": "the confidence's fitting rows (drcd_dev_simplified first half, xquad_dev_en/zh first 12 "
                      "articles) and pairs made from those files' raw paragraphs; model k read the articles "
                      "whose fold is not k"
                      + ("; both models also read cmrc2018_trial's first half (its rows and pairs made from its "
                         "paragraphs), which the confidence is not fitted on" if args.with_cmrc else "")
                      + ("; each answer's window also read with the answer cut out, as a negative"
                         if args.answer_removed else "")
                      + (f"; a span head beside the head taught where the answer is (loss weight "
                         f"{args.span_weight})" if args.span_weight else ""),
        "retrain": "python bench/train_reader.py",
    }, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {WEIGHTS_FILE} ({WEIGHTS_FILE.stat().st_size / 1e6:.1f} MB) and {MODEL_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
