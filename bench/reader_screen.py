"""Screen a candidate reader against another before re-gathering the confidence with it.

    .venv/bin/python bench/reader_screen.py --baseline DIR [--candidate bot/models] [--every 1]

DIR and the candidate each hold a ``reader.json`` and ``reader.npz`` (``bench/train_reader.py``
writes them into ``bot/models``: copy the shipped ones aside first). Needs the cache that
``bench/train_confidence.py`` writes.

A re-gather with a candidate reader takes about an hour; this takes about ten minutes. Both readers
re-read every cached first excerpt (the fitting rows with the logit of the model that did not read
the article, the held-out rows with the mean of both), one pair at a time. A cached reading is not
compared with a re-reading: the bot reads the first three hits' excerpts in one batch, and the int8
graph scales its activations per batch, so the two differ by up to about 0.4 in logit. Printed for
each reader: its AUC for "the first excerpt holds the gold" (fitting rows, then each held-out file),
and the cached features (their ``reader`` left out) with its logit in ``bench/cross_reader.py``'s
protocols: refused at 0.95 answered out of fold, and held out per file. First hit only, no second
opinion, no mixed calibration: the two readers are compared with each other, not with the shipped
figures. Last, the same for the mean of the two readers' logits (an ensemble of four models).
``--every N`` reads every Nth cached row only (a quick check that it runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train_confidence  # noqa: E402
from cross_reader import auc, cached_rows, print_protocols  # noqa: E402
from bot.reader import MODEL_FILE, WEIGHTS_FILE, Reader, article_group  # noqa: E402
from embeddings.config import IndexSettings  # noqa: E402
from embeddings.encoder import query_encoder  # noqa: E402


def readings(folder: Path, encoder, row_sets: tuple[list[dict], ...]) -> tuple[np.ndarray, ...]:
    """The reader in ``folder``'s logit for each set of rows (honest for fitting rows)."""
    reader = Reader.load(folder / MODEL_FILE.name, folder / WEIGHTS_FILE.name)

    def one(row: dict) -> float:
        if not row["excerpt"]:
            return float("nan")
        values = reader.read(encoder, row["question"], [row["excerpt"]])[0]
        return reader.honest(values, article_group(row["file"], row["article"]))["reader"]

    out = []
    for rows in row_sets:
        started = time.perf_counter()
        logits = np.array([one(r) for r in rows])
        print(f"{folder}: {len(rows)} pairs read in {time.perf_counter() - started:.0f} s", flush=True)
        out.append(np.nan_to_num(logits, nan=float(np.nanmin(logits))))
    return tuple(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="a folder with the other reader's files")
    parser.add_argument("--candidate", type=Path, default=MODEL_FILE.parent)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--shuffles", type=int, default=10)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    rows = cached_rows()[:: args.every]
    fit = [r for r in rows if train_confidence.fitted_on(r)]
    test = [r for r in rows if r["held_out"] and r["kind"] in train_confidence.FITTED_KINDS]
    encoder = query_encoder(IndexSettings.from_env())
    names = [n for n in sorted(fit[0]["features"]) if n != "reader"]
    x_fit, x_test = train_confidence.matrix(fit, names), train_confidence.matrix(test, names)
    holds_fit, holds_test = np.array([r["label"] for r in fit]), np.array([r["label"] for r in test])
    read = {label: readings(folder, encoder, (fit, test))
            for label, folder in (("baseline", args.baseline), ("candidate", args.candidate))}
    read["the mean of both"] = tuple((a + b) / 2 for a, b in zip(read["baseline"], read["candidate"]))
    for label, (read_fit, read_test) in read.items():
        aucs = {"fitting rows": auc(read_fit, holds_fit)}
        for file in train_confidence.FILES:
            inside = np.array([r["file"] == file for r in test], dtype=bool)
            if inside.any() and 0 < holds_test[inside].sum() < inside.sum():
                aucs[file] = auc(read_test[inside], holds_test[inside])
        print(f"{label}, AUC for 'the first excerpt holds the gold': {json.dumps(aucs)}", flush=True)
        with_fit, with_test = np.hstack([x_fit, read_fit[:, None]]), np.hstack([x_test, read_test[:, None]])
        print_protocols(f"{label}, cached features + its logit", fit, with_fit, test, with_test, args.shuffles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
