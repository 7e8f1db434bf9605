"""Does a cross-encoder reader, fitted on the bench's own data, add to the confidence?

    .venv/bin/python bench/cross_reader.py [--epochs 2] [--frozen 8] [--no-augment] [--answer-removed]
                                           [--shuffles 10]

Needs the cache that ``bench/train_confidence.py`` writes (run it once; ``--dry-run`` is enough).

The confidence's confident wrong quotes are mostly sibling paragraphs of the right article that
name everything the question names but the fact it asks for (README, "Reading the
confident wrong quotes"). Word-overlap features cannot see that; a reader that reads question and excerpt together
might. The reader here is the bundled encoder (multilingual-e5-small) as a cross-encoder: the pair
"query: question" / "passage: excerpt" (160 tokens at most), its lower ``--frozen`` layers kept
(their states computed once), the upper layers and a linear head over the mean of the tokens
fitted to say whether the excerpt holds the answer.

Training pairs, all from the confidence's fitting half (DRCD's first half, XQuAD's first 12
articles; CMRC is not used) so that nothing held out is read:
- the fitting rows themselves (question, first excerpt, does it hold the gold);
- unless ``--no-augment``, pairs made from the raw files: the sentence that holds the answer
  (positive), another sentence of the same paragraph and the two sentences of its sibling
  paragraphs that share the most character pairs with the question (negatives);
- with ``--answer-removed`` (twenty-fifth session), also the sentence that held the answer with
  the answer cut out (a negative): every name of the question still written, the fact asked for
  gone, as in the sibling paragraphs that the confidence quotes wrongly.

Printed, each next to the same figure without the reader:
- out of fold (2 folds by article; XQuAD's English and Chinese questions of one article share
  a fold): the reader's AUC for "the first excerpt holds the gold" beside ``align_mean``'s;
- the confidence protocol of ``bench/plateau_checks.py --part confidence-more``: the cached
  features in a logistic regression without a reader, with the shipped reader's logit (the cache's
  ``reader``), and with this run's out-of-fold logit in its place, refused at 0.95 answered (mean
  of ``--shuffles`` shufflings of 5 article folds);
- held out (CMRC's and DRCD's second halves, XQuAD's last 12 articles; the reader is the mean of
  the two fold models): answered, refused and confident wrong share per file, at the cut chosen
  out of fold for 0.95 answered. First hit only, no mixed calibration: these compare the two
  variants with each other, they are not the shipped model's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import train_confidence  # noqa: E402
from plateau_checks import cached, out_of_fold_logits, shuffled_folds  # noqa: E402
from bot.reader import article_group  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import prepare_model  # noqa: E402
from embeddings.text import normalise, sentence_spans  # noqa: E402

BENCH = PROJECT_ROOT.parent / "shared" / "bench"
MAX_TOKENS = 160
BATCH = 16
MIN_WINDOW = 40  # a sentence shorter than this takes the next one with it, as an excerpt would


@dataclass
class Pair:
    question: str
    excerpt: str
    label: int
    group: str  # the article, the same for XQuAD's English and Chinese questions
    answers: tuple[str, ...] = ()  # the gold, for the span a positive pair's excerpt holds (``--span-weight``)


def cached_rows() -> list[dict]:
    return [row for file in train_confidence.FILES
            for row in map(json.loads, cached(f"confidence-features-{file}.jsonl").read_text(encoding="utf-8").splitlines())]


def windows(context: str) -> list[tuple[int, int]]:
    spans, out, i = sentence_spans(context), [], 0
    while i < len(spans):
        start, end = spans[i]
        while end - start < MIN_WINDOW and i + 1 < len(spans):
            i += 1
            end = spans[i][1]
        out.append((start, end))
        i += 1
    return out


def char_pairs(text: str) -> set[str]:
    text = normalise(text)
    return {text[i:i + 2] for i in range(len(text) - 1)}


# the confidence's fitting half: file -> how many of its first articles
FITTING_ARTICLES = {"drcd_dev_simplified": "half", "xquad_dev_en": 12, "xquad_dev_zh": 12}


def without_answer(window: str, at: int, answer: str, gold: set[str]) -> str | None:
    """The window with its answer (at ``at``, and wherever else a gold form is written) cut out:
    every name of the question is still there, the fact asked for is not (``--answer-removed``).
    None when the answer is most of the window or a gold form is still found."""
    if not answer or len(answer) * 3 > len(window) or window[at:at + len(answer)] != answer:
        return None
    text = window[:at] + window[at + len(answer):]
    for form in sorted(gold, key=len, reverse=True):
        text = text.replace(form, "")
    return None if any(g in normalise(text) for g in gold) else text


def augmented(rng: np.random.RandomState, sources: dict[str, int | str] = FITTING_ARTICLES,
              answer_removed: bool = False) -> list[Pair]:
    """Pairs from the raw files' first articles (``sources``: file -> a count, or "half"); with
    ``answer_removed``, also each answer's window with the answer cut out, as a negative."""
    pairs: list[Pair] = []
    chinese_twin: dict[str, str] = {}  # XQuAD question id -> its Chinese wording
    zh = json.loads((BENCH / "xquad_dev_zh.json").read_text(encoding="utf-8"))
    for article in zh["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                chinese_twin[qa["id"]] = qa["question"]
    for file, count in sources.items():
        data = json.loads((BENCH / f"{file}.json").read_text(encoding="utf-8"))["data"]
        fitting = len(data) // 2 if count == "half" else int(count)
        for article in data[:fitting]:
            contexts = [p["context"] for p in article["paragraphs"]]
            spans = [windows(c) for c in contexts]
            for index, paragraph in enumerate(article["paragraphs"]):
                for qa in paragraph["qas"]:
                    answers = [a for a in qa["answers"] if a["text"].strip()]
                    if not answers:
                        continue
                    gold = {normalise(a["text"]) for a in answers}
                    start = answers[0]["answer_start"]
                    holds = [w for w in spans[index] if w[0] <= start < w[1]]
                    group = article_group(file, article["title"])

                    def add(text: str, label: int) -> None:
                        pairs.append(Pair(qa["question"], text, label, group, tuple(a["text"] for a in answers)))

                    if holds:
                        add(contexts[index][holds[0][0]:holds[0][1]], 1)
                        cut = without_answer(contexts[index][holds[0][0]:holds[0][1]], start - holds[0][0],
                                             answers[0]["text"], gold) if answer_removed else None
                        if cut:
                            add(cut, 0)
                    without = [w for w in spans[index]
                               if not any(g in normalise(contexts[index][w[0]:w[1]]) for g in gold)]
                    if without:
                        w = without[rng.randint(len(without))]
                        add(contexts[index][w[0]:w[1]], 0)
                    asked = char_pairs(chinese_twin.get(qa["id"], qa["question"]))
                    siblings = [
                        (len(asked & char_pairs(contexts[j][s:e])), contexts[j][s:e])
                        for j in range(len(contexts)) if j != index for s, e in spans[j]
                    ]
                    siblings = [(shared, text) for shared, text in siblings
                                if not any(g in normalise(text) for g in gold)]
                    for _, text in sorted(siblings, key=lambda s: -s[0])[:2]:
                        add(text, 0)
    return pairs


class Reader:
    """The encoder's lower layers run once per pair; the upper ones and a head are fitted."""

    def __init__(self, frozen: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(0)
        folder = prepare_model(IndexSettings.from_env())
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).eval()
        self.frozen = frozen

    def _layers(self):
        return self.model.encoder.layer

    @staticmethod
    def _run(layers, hidden, attention):
        mask = (1.0 - attention[:, None, None, :].to(hidden.dtype)) * -1e4  # additive: padding gets no weight
        for layer in layers:
            out = layer(hidden, attention_mask=mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def states(self, pairs: list[Pair]) -> list:
        """Each pair's hidden states after the frozen layers (float16, its own length)."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(pairs), 64):
                batch = pairs[i:i + 64]
                encoded = self.tokenizer([f"query: {p.question}" for p in batch],
                                         [f"passage: {p.excerpt}" for p in batch],
                                         truncation="only_second", max_length=MAX_TOKENS,
                                         padding=True, return_tensors="pt")
                hidden = self.model.embeddings(input_ids=encoded["input_ids"])
                hidden = self._run(self._layers()[:self.frozen], hidden, encoded["attention_mask"])
                for h, a in zip(hidden, encoded["attention_mask"]):
                    out.append(h[: int(a.sum())].to(torch.float16).clone())
        return out

    def check(self, pair: Pair) -> float:
        """Largest difference between the split run and the whole model on one pair."""
        import torch

        encoded = self.tokenizer([f"query: {pair.question}"], [f"passage: {pair.excerpt}"], return_tensors="pt")
        with torch.inference_mode():
            whole = self.model(**encoded).last_hidden_state[0]
            lower = self.states([pair])[0].float()[None]
            split = self._run(self._layers()[self.frozen:], lower, encoded["attention_mask"])[0]
        return float((whole - split).abs().max())

    def _batch(self, states: list):
        import torch

        length = max(len(s) for s in states)
        hidden = torch.zeros(len(states), length, states[0].shape[1])
        attention = torch.zeros(len(states), length)
        for i, s in enumerate(states):
            hidden[i, : len(s)] = s.float()
            attention[i, : len(s)] = 1
        return hidden, attention

    def fit(self, states: list, labels: np.ndarray, train: np.ndarray, epochs: int,
            spans: np.ndarray | None = None, span_weight: float = 0.0):
        """A copy of the upper layers and a new head fitted on ``train`` (the encoder itself is
        never changed, so each fold starts from its weights). With ``span_weight``, a span head
        is fitted beside them to point at the answer's first and last token (the first token when
        the excerpt lacks it), as extractive readers are taught, and returned third (else None)."""
        import copy

        import torch

        upper = torch.nn.ModuleList(copy.deepcopy(list(self._layers()[self.frozen:])))
        head = torch.nn.Linear(upper[0].output.dense.out_features, 1)
        taught = span_weight > 0 and spans is not None
        span_head = torch.nn.Linear(upper[0].output.dense.out_features, 2) if taught else None
        optimiser = torch.optim.AdamW([
            {"params": upper.parameters(), "lr": 3e-5},
            {"params": list(head.parameters()) + (list(span_head.parameters()) if taught else []), "lr": 1e-3},
        ], weight_decay=0.01)
        span_loss_of = torch.nn.CrossEntropyLoss(ignore_index=-1)
        loss_of = torch.nn.BCEWithLogitsLoss()
        rng = np.random.RandomState(0)
        upper.train()
        for epoch in range(epochs):
            started, total = time.perf_counter(), 0.0
            order = rng.permutation(train)
            for i in range(0, len(order), BATCH):
                chunk = order[i:i + BATCH]
                hidden, attention = self._upper(upper, states, chunk)
                loss = loss_of(self._pooled_logits(head, hidden, attention),
                               torch.tensor(labels[chunk], dtype=torch.float32))
                if taught:
                    ends = span_head(hidden).masked_fill(attention[..., None] == 0, -1e4)
                    target = torch.as_tensor(spans[chunk])
                    loss = loss + span_weight * (span_loss_of(ends[..., 0], target[:, 0])
                                                 + span_loss_of(ends[..., 1], target[:, 1])) / 2
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += loss.item() * len(chunk)
            print(f"  epoch {epoch + 1}: loss {total / len(order):.4f} ({time.perf_counter() - started:.0f} s)",
                  flush=True)
        upper.eval()
        return upper, head, span_head

    def _upper(self, upper, states: list, indices: np.ndarray):
        hidden, attention = self._batch([states[i] for i in indices])
        return self._run(upper, hidden, attention), attention

    @staticmethod
    def _pooled_logits(head, hidden, attention):
        pooled = (hidden * attention[..., None]).sum(1) / attention.sum(1, keepdim=True)
        return head(pooled)[:, 0]

    def _logits(self, upper, head, states: list, indices: np.ndarray):
        return self._pooled_logits(head, *self._upper(upper, states, indices))

    def predict(self, upper, head, states: list, indices: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return (np.concatenate([self._logits(upper, head, states, indices[i:i + 64]).numpy()
                                    for i in range(0, len(indices), 64)]) if len(indices) else np.zeros(0))

    def span_margins(self, upper, span_head, states: list, indices: np.ndarray, excerpt: list[np.ndarray],
                     longest: int = 30) -> np.ndarray:
        """How much the span head prefers the excerpt's best span (at most ``longest`` tokens)
        to the pair's first token, which it was taught to point at when the answer is absent:
        SQuAD 2.0's no-answer margin."""
        import torch

        out = np.zeros(len(indices))
        with torch.inference_mode():
            for i in range(0, len(indices), 64):
                chunk = indices[i:i + 64]
                hidden, attention = self._upper(upper, states, chunk)
                ends = span_head(hidden).numpy()
                for j, row in enumerate(chunk):
                    start, end = ends[j, : len(states[row]), 0], ends[j, : len(states[row]), 1]
                    inside = excerpt[row]
                    pair = start[:, None] + end[None, :]
                    length = np.arange(len(inside))[None, :] - np.arange(len(inside))[:, None]
                    allowed = (length >= 0) & (length < longest) & inside[:, None] & inside[None, :]
                    best = pair[allowed].max() if allowed.any() else pair[0, 0]
                    out[i + j] = best - pair[0, 0]
        return out

    def fit_predict(self, states: list, labels: np.ndarray, train: np.ndarray, predict: list[np.ndarray],
                    epochs: int) -> list[np.ndarray]:
        """Fit on ``train``, then return the logits of each index array in ``predict``."""
        upper, head, _ = self.fit(states, labels, train, epochs)
        return [self.predict(upper, head, states, indices) for indices in predict]


def gold_answers(files) -> dict[tuple[str, str], tuple[str, ...]]:
    """(file, question) -> its gold answers, from the raw bench files."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for file in files:
        for article in json.loads((BENCH / f"{file}.json").read_text(encoding="utf-8"))["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    out[(file, qa["question"])] = tuple(a["text"] for a in qa["answers"] if a["text"].strip())
    return out


def gold_place(excerpt: str, answers: tuple[str, ...]) -> tuple[int, int] | None:
    """Where in ``excerpt`` the first findable gold answer is written, compared as the labels are
    (NFKC), as a span of the raw excerpt."""
    folded, origin = "", []
    for i, char in enumerate(excerpt):
        piece = normalise(char)
        folded += piece
        origin += [i] * len(piece)
    for answer in answers:
        wanted = normalise(answer)
        at = folded.find(wanted) if wanted else -1
        if at >= 0:
            return origin[at], origin[at + len(wanted) - 1] + 1
    return None


PASSAGE = "passage: "


def encoded_pair(tokenizer, pair: Pair):
    """One pair tokenised as ``Reader.states`` tokenises it, with each token's place in its text."""
    return tokenizer(f"query: {pair.question}", f"{PASSAGE}{pair.excerpt}",
                     truncation="only_second", max_length=MAX_TOKENS, return_offsets_mapping=True)


def answer_tokens(tokenizer, pairs: list[Pair]) -> np.ndarray:
    """Each pair's answer as (first, last) token of its excerpt: (0, 0), the pair's first token,
    for a pair without the answer; (-1, -1) when a positive pair's answer cannot be placed
    (truncated away, or written differently), so that no span is taught for it."""
    out = np.full((len(pairs), 2), -1, dtype=np.int64)
    for i, pair in enumerate(pairs):
        if not pair.label:
            out[i] = 0
            continue
        placed = gold_place(pair.excerpt, pair.answers)
        if placed is None:
            continue
        start, end = (len(PASSAGE) + placed[0], len(PASSAGE) + placed[1])
        encoded = encoded_pair(tokenizer, pair)
        tokens = [t for t, (sequence, (a, b)) in enumerate(zip(encoded.sequence_ids(), encoded["offset_mapping"]))
                  if sequence == 1 and b > start and a < end]
        if tokens:
            out[i] = (tokens[0], tokens[-1])
    return out


def excerpt_tokens(tokenizer, pairs: list[Pair]) -> list[np.ndarray]:
    """Which of each pair's tokens (as ``Reader.states`` cuts them) belong to the excerpt."""
    out = []
    for pair in pairs:
        encoded = encoded_pair(tokenizer, pair)
        out.append(np.array([sequence == 1 and a >= len(PASSAGE)
                             for sequence, (a, _) in zip(encoded.sequence_ids(), encoded["offset_mapping"])]))
    return out


def two_folds(pairs: list[Pair]) -> tuple[dict[str, int], np.ndarray]:
    """Each article's fold (0 or 1, shuffled with a fixed seed) and each pair's."""
    groups = sorted({p.group for p in pairs})
    fold_of = {g: i % 2 for i, g in enumerate(np.random.RandomState(0).permutation(groups))}
    return fold_of, np.array([fold_of[p.group] for p in pairs])


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4)


def confidence_protocol(fit: list[dict], x: np.ndarray, shuffles: int) -> tuple[float, dict[str, float]]:
    """``plateau_checks.more_confidence_checks``' protocol: refused at 0.95 answered, overall
    and per file (means over the shufflings)."""
    answerable = np.array([r["answerable"] or r["label"] for r in fit], dtype=int)
    asked = np.array([r["answerable"] for r in fit], dtype=bool)
    files = np.array([r["file"] for r in fit])
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    articles = [f"{r['file']}|{r['article']}" for r in fit]
    refused, per_file = [], Counter()
    for seed in range(shuffles):
        logits = out_of_fold_logits(z, answerable, shuffled_folds(articles, seed))
        cut = train_confidence.cut_for(logits, asked, train_confidence.TARGET_ANSWERED)
        refused.append(train_confidence.figures(fit, logits, cut)["refused"])
        for file in sorted(set(files)):
            inside = files == file
            per_file[file] += train_confidence.figures([r for r, i in zip(fit, inside) if i], logits[inside],
                                                       cut)["refused"] / shuffles
    return float(np.mean(refused)), {str(f): round(v, 4) for f, v in per_file.items()}


def held_out(fit: list[dict], x_fit: np.ndarray, test: list[dict], x_test: np.ndarray) -> dict[str, dict]:
    """Fitted on all the fitting rows, the cut chosen out of fold; figures per held-out file."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    answerable = np.array([r["answerable"] or r["label"] for r in fit], dtype=int)
    asked = np.array([r["answerable"] for r in fit], dtype=bool)
    mean, scale = x_fit.mean(axis=0), x_fit.std(axis=0) + 1e-9
    z, z_test = (x_fit - mean) / scale, (x_test - mean) / scale
    logits = np.zeros(len(fit))
    for train, valid in GroupKFold(n_splits=5).split(z, answerable, [f"{r['file']}|{r['article']}" for r in fit]):
        logits[valid] = LogisticRegression(C=1.0, max_iter=5000).fit(z[train], answerable[train]).decision_function(
            z[valid])
    cut = train_confidence.cut_for(logits, asked, train_confidence.TARGET_ANSWERED)
    scores = LogisticRegression(C=1.0, max_iter=5000).fit(z, answerable).decision_function(z_test)
    out = {}
    for file in train_confidence.FILES:
        inside = np.array([r["file"] == file for r in test])
        if inside.any():
            found = train_confidence.figures([r for r, i in zip(test, inside) if i], scores[inside], cut)
            out[file] = {k: found[k] for k in ("answered", "refused", "confident_wrong")}
    return out


def print_protocols(label: str, fit: list[dict], x_fit: np.ndarray, test: list[dict], x_test: np.ndarray,
                    shuffles: int) -> None:
    """One variant's figures in both protocols: out of fold on the fitting rows, then held out."""
    refused, per_file = confidence_protocol(fit, x_fit, shuffles)
    print(f"confidence, {label}: refused {refused:.4f} at 0.95 answered (out of fold, mean of "
          f"{shuffles} shufflings); per file {per_file}", flush=True)
    print(f"held out, {label}: {json.dumps(held_out(fit, x_fit, test, x_test))}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--frozen", type=int, default=8, help="lower encoder layers kept as they are (of 12)")
    parser.add_argument("--no-augment", action="store_true", help="train on the fitting rows only")
    parser.add_argument("--shuffles", type=int, default=10)
    parser.add_argument("--answer-removed", action="store_true",
                        help="also read each answer's window with the answer cut out, as a negative")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    rows = cached_rows()
    fit = [r for r in rows if train_confidence.fitted_on(r)]
    test = [r for r in rows if r["held_out"] and r["kind"] in train_confidence.FITTED_KINDS]
    extra = [] if args.no_augment else augmented(np.random.RandomState(0), answer_removed=args.answer_removed)
    pairs = [Pair(r["question"], r["excerpt"], r["label"], article_group(r["file"], r["article"])) for r in fit + test]
    pairs += extra
    print(f"{len(fit)} fitting rows, {len(test)} held-out rows, {len(extra)} augmented pairs "
          f"({sum(p.label for p in extra)} positive)", flush=True)

    reader = Reader(args.frozen)
    print(f"split run vs whole model, largest difference: {reader.check(pairs[0]):.2e}", flush=True)
    started = time.perf_counter()
    states = reader.states(pairs)
    print(f"frozen layers' states: {time.perf_counter() - started:.0f} s", flush=True)

    labels = np.array([p.label for p in pairs], dtype=np.float32)
    fold = two_folds(pairs)[1]
    is_fit = np.zeros(len(pairs), dtype=bool)
    is_fit[: len(fit)] = True
    is_test = np.zeros(len(pairs), dtype=bool)
    is_test[len(fit): len(fit) + len(test)] = True
    fit_logit, test_logit = np.zeros(len(fit)), np.zeros(len(test))
    for k in (0, 1):
        train = np.flatnonzero((fold != k) & ~is_test)
        valid = np.flatnonzero((fold == k) & is_fit)
        print(f"fold {k + 1}: {len(train)} training pairs, {len(valid)} fitting rows predicted", flush=True)
        predicted_valid, predicted_test = reader.fit_predict(
            states, labels, train, [valid, np.flatnonzero(is_test)], args.epochs)
        fit_logit[valid] = predicted_valid
        test_logit += predicted_test / 2

    holds = np.array([r["label"] for r in fit])
    align = np.array([r["features"]["align_mean"] for r in fit])
    print(f"out of fold, AUC for 'the first excerpt holds the gold': this reader {auc(fit_logit, holds)}, "
          f"align_mean {auc(align, holds)}", flush=True)
    # the cache holds the shipped reader's logit ("reader"): compare without it, with it, and with
    # this run's in its place
    names = [n for n in sorted(fit[0]["features"]) if n != "reader"]
    x_fit, x_test = train_confidence.matrix(fit, names), train_confidence.matrix(test, names)
    variants = {"cached features without a reader": (x_fit, x_test)}
    if "reader" in fit[0]["features"]:
        variants["+ the shipped reader"] = tuple(
            np.hstack([x, np.array([r["features"]["reader"] for r in rows])[:, None]])
            for x, rows in ((x_fit, fit), (x_test, test)))
    variants["+ this reader"] = (np.hstack([x_fit, fit_logit[:, None]]), np.hstack([x_test, test_logit[:, None]]))
    for name, (xf, xt) in variants.items():
        print_protocols(name, fit, xf, test, xt, args.shuffles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
