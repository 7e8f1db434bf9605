"""Re-train the confidence model from ../shared/bench and print its held-out figures.

    .venv/bin/python bench/train_confidence.py [--bench DIR] [--reuse] [--dry-run] [--archive JSONL]

Data (the refusal protocol of ../shared/bench/README.md): each file's contexts 1, 3, 5, … are
indexed and every question is asked; a question's label is whether its first excerpt holds a
gold answer. Questions about removed contexts are the hard negatives (same article, answer
absent); the same questions asked against the shipped Panjin page are the easy ones. They are
also asked against unrelated news, an archive's worth of passages that share a word or two with
a question (the first half of distractors/xwlb-2018-sample.jsonl for the fitting halves'
sampled questions, the second half for every held-out one): reported as "news_refused", not
fitted on (``FITTED_KINDS``).

Split, so that no figure printed as "held-out" comes from data the model was fitted on:
- fit: DRCD dev, first half of its articles; XQuAD (English and Chinese questions), its first
  12 articles;
- held out: CMRC's and DRCD's second halves, XQuAD's last 12 articles. CMRC's first half is
  neither: the answer-span model, whose probability is a feature, was fitted on it.
The reader (bot/reader.py, fitted by bench/train_reader.py on the same fitting half) is two models,
each having read half of the fitting articles: a row's ``reader`` feature is the logit of the
model that never read its article (``Reader.honest``), so that the confidence learns how far to
trust the reader on articles it has not seen, which is how the bot meets every question.
The second opinion (bot.answering): each of the first three hits is judged as if it had come
first, and the one the model trusts most leads when it beats the first by a margin. Each row
records its alternatives (the next hits' features and labels); the margin is the one with the
best excerpt hit@1 out of fold (averaged over the fitting files; ties go to the larger margin).
The default cut (MIN_CONFIDENCE) is then chosen on out-of-fold predictions of the fitting data
(5 folds grouped by article), for the hit that comes first: the highest cut that still answers
0.95 of its answerable questions. The held-out figures are read at that cut, and beside them
the first hit's alone (at the cut chosen without a second opinion).

Mixed questions (English ones that write a term in Chinese, Chinese ones that write a common
word in English; made by bench/mixed_questions.py from
the two XQuAD files) are gathered the same way but never fitted on by the model: its logit gets
a Platt scaling of each kind's own (``mixed_slope``/``mixed_offset``, ``mixed_zh_…``), fitted on their first 12
articles and reported on the other 12.
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
from bot import answering  # noqa: E402
from bot.answering import Answerer  # noqa: E402
from bot.confidence import MIXED_CALIBRATION, MODEL_PATH, ConfidenceModel, Evidence, mixed_kind, preferred  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.evaluate import Case, prepare_refusal  # noqa: E402
from bot.question import parse_question  # noqa: E402
from bot.reader import MODEL_FILE as READER_FILE, article_group  # noqa: E402
from mixed_questions import default_path as mixed_path, write_mixed  # noqa: E402
from embeddings.build import build_index  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.index_store import load_index  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from embeddings.text import normalise  # noqa: E402

FILES = ("xquad_dev_en", "xquad_dev_zh", "cmrc2018_trial", "drcd_dev_simplified")
# mixed questions made by bench/mixed_questions.py, by the kind of mixing they are calibrated for
MIXED = {"english": "xquad_dev_mixed", "chinese": "xquad_dev_mixed_zh"}
TARGET_ANSWERED = 0.95
NEVER = 1.0  # a margin no confidence reaches: the first hit always stays first
# margins the second opinion may ask of another hit's confidence over the first's (bot.answering)
MARGINS = (0.0, 0.025, 0.05, 0.1, 0.2, NEVER)
EASY_PER_FILE = 400  # questions of each file also asked against the Panjin page (and, of the fitting halves, news)
# the same questions asked against unrelated news: its passages share a word or two with many
# questions, where the one Panjin page shares nothing and refuses them whatever the weights
NEWS = Path("distractors") / "xwlb-2018-sample.jsonl"
# Fitted on: questions about indexed contexts, about removed ones, and asked of the Panjin page.
# Those asked of unrelated news are reported only: fitted on, instead of the Panjin page's or
# beside them, they lift their own refused share a lot and the English one's in particular, but
# held out they cost CMRC 4 questions refused and English questions 4 points answered (README,
# "Questions asked of unrelated news"; ``bench/plateau_checks.py --part confidence-more``).
FITTED_KINDS = ("indexed", "removed", "unrelated")
log = logging.getLogger("train_confidence")


def held_out(file: str, article_order: dict[str, int], article: str) -> bool:
    """CMRC's first half is neither fitted on nor held out: the answer-span model (whose
    probability is a feature) was fitted on it."""
    order = article_order[article]
    if file.startswith("xquad"):
        return order >= 12
    return order >= len(article_order) // 2


def reader_weights() -> str:
    """The shipped reader's weights (their SHA-256), stamped on every gathered row: a cache read
    by another reader would fit the confidence to readings the bot never makes."""
    return json.loads(READER_FILE.read_text(encoding="utf-8"))["weights_sha256"]


def fitting_half(row: dict) -> bool:
    """DRCD's and XQuAD's fitting halves (see ``held_out``)."""
    return not row["held_out"] and row["file"] != "cmrc2018_trial"


def fitted_on(row: dict) -> bool:
    """The rows the confidence is fitted on: the fitting halves' rows of the ``FITTED_KINDS``."""
    return fitting_half(row) and row["kind"] in FITTED_KINDS


def collect(answerer: Answerer, cases: list[Case], file: str, kind: str, split) -> list[dict]:
    answerer.encoder.prepare([c.question for c in cases])
    rows = []
    for case in cases:
        if not case.question.strip():
            continue
        group = article_group(file, case.article)

        def honest(values: dict[str, float]) -> dict[str, float]:
            return answerer.reader.honest(values, group)  # the reader's model that never read this article

        # the window shown is chosen with the honest logit too, as on an article the reader never read
        answerer.choice_logit = lambda reading: honest(reading)["reader"]
        answer = answerer.answer(case.question, top_k=3)
        if answer.evidence is None:  # a question with nothing to search for: always refused
            continue
        first = answer.hits[0].excerpt if answer.hits else ""
        gold = [normalise(a) for a in case.answers]

        def holds(excerpt: str) -> int:
            return int(any(g and g in normalise(excerpt) for g in gold))

        rows.append({
            "file": file, "kind": kind, "article": case.article, "held_out": split(case.article),
            "answerable": kind == "indexed", "label": holds(first),
            "question": case.question, "excerpt": first, "features": honest(answer.evidence.values),
            # the next hits, each as if it had come first: for the second opinion's margin
            "alternatives": [
                {"label": holds(hit.excerpt), "features": honest(other.values)}
                for hit, other in zip(answer.hits[1:], answer.alternatives)
            ],
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
    news: dict[bool, Answerer] = {}
    rows: list[dict] = []
    inside = f"in-{Path(distractors).stem}-" if distractors else ""
    weights = reader_weights()
    for file in files:
        cached = settings.cache_dir / "eval" / f"confidence-features-{inside}{file}.jsonl"
        if reuse and cached.is_file():
            reused = [json.loads(line) for line in cached.read_text(encoding="utf-8").splitlines()]
            if any(r.get("reader_weights") != weights for r in reused):
                sys.exit(f"error: {cached} was read by another reader than {READER_FILE}'s (or does not say "
                         "which): run without --reuse")
            # caches from before the stamp were all gathered with one window
            if any(r.get("reader_windows", 1) != answering.WINDOWS for r in reused):
                sys.exit(f"error: {cached} was gathered with another number of windows per hit than "
                         f"bot.reader_choice.WINDOWS ({answering.WINDOWS}): run without --reuse")
            rows += reused
            continue
        if unrelated is None:
            build_index(panjin, progress=False, encoder=encoder.encoder)
            unrelated = Answerer(load_index(panjin.index_dir), encoder, AnswerSettings(), confidence=None)
            if not distractors:
                news = {half: Answerer(load_index(news_index(bench, settings, half, encoder)), encoder, AnswerSettings(),
                                       confidence=None) for half in (False, True)}
        started = time.perf_counter()
        file_rows: list[dict] = []
        source = mixed_source(bench, file) if file in MIXED.values() else bench / f"{file}.json"
        refusal_dir, cases = prepare_refusal(source, progress=False, distractors=distractors)
        order = {a: i for i, a in enumerate(dict.fromkeys(c.article for c in cases))}
        split = lambda article, file=file, order=order: held_out(file, order, article)  # noqa: E731
        answerer = Answerer(load_index(refusal_dir), encoder, AnswerSettings(), confidence=None)
        indexed = [c for c in cases if c.indexed]
        removed = [c for c in cases if not c.indexed]
        file_rows += collect(answerer, indexed, file, "indexed", split)
        file_rows += collect(answerer, removed, file, "removed", split)
        sample = [] if distractors else cases[:: max(1, len(cases) // EASY_PER_FILE)][:EASY_PER_FILE]
        file_rows += collect(unrelated, sample, file, "unrelated", split)
        for held, answerer in news.items():  # every held-out question: the figure is reported, not fitted
            asked = [c for c in (cases if held else sample) if split(c.article) == held]
            file_rows += collect(answerer, asked, file, "news", split)
        for row in file_rows:
            row["reader_weights"], row["reader_windows"] = weights, answering.WINDOWS
        cached.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in file_rows), encoding="utf-8")
        log.info("%s: %d questions asked in %.0f s", file, len(file_rows), time.perf_counter() - started)
        rows += file_rows
    return rows


def news_index(bench: Path, settings: IndexSettings, second_half: bool, encoder: BatchedQueries) -> Path:
    """An index of one half of the distractor news (built once, under the cache)."""
    items = (bench / NEWS).read_text(encoding="utf-8").splitlines()
    half = items[len(items) // 2 :] if second_half else items[: len(items) // 2]
    folder = settings.cache_dir / "eval" / f"news-{'second' if second_half else 'first'}-half"
    corpus = folder / "corpus" / "news.jsonl"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(half) + "\n"
    if not corpus.is_file() or corpus.read_text(encoding="utf-8") != text:
        corpus.write_text(text, encoding="utf-8")
    news = replace(settings, corpus_dir=corpus.parent, index_dir=folder / "index")
    log.info("unrelated news (%s half): %s", "second" if second_half else "first",
             build_index(news, progress=False, encoder=encoder.encoder).summary())
    return news.index_dir


def mixed_source(bench: Path, file: str) -> Path:
    chinese = file == MIXED["chinese"]
    return write_mixed(bench, mixed_path().with_name(f"{file}.json"), into_chinese=chinese)


def mixed_of(row: dict) -> str:
    """Which calibration a row's question gets (read again from the question: older caches)."""
    return mixed_kind(parse_question(row["question"]))


def matrix(rows: list[dict], names: list[str]) -> np.ndarray:
    return features_matrix(rows_features(rows), names)


def features_matrix(features: list[dict], names: list[str]) -> np.ndarray:
    return np.array([[values.get(n, 0.0) for n in names] for values in features], dtype=np.float64)


def cut_for(probabilities: np.ndarray, answerable: np.ndarray, target: float) -> float:
    """The highest cut at which ``target`` of the answerable questions are still answered."""
    scores = np.sort(probabilities[answerable])
    return float(scores[int(np.floor((1 - target) * len(scores)))]) if len(scores) else 0.5


class Judged:
    """The confidence of every row's first hit and of its alternatives (the next hits, each as
    if it had come first), so that any margin of the second opinion can be replayed."""

    def __init__(self, rows: list[dict], first: np.ndarray, others: np.ndarray) -> None:
        self.rows = rows
        self.options = [[(float(p), r["label"])] for p, r in zip(first, rows)]
        owners, alternatives = alternatives_of(rows)
        for owner, p, other in zip(owners, others, alternatives):
            self.options[owner].append((float(p), other["label"]))

    def chosen(self, margin: float) -> tuple[np.ndarray, np.ndarray]:
        """The confidence and the label of the hit that comes first at this margin."""
        picked = [options[preferred([p for p, _ in options], margin)] for options in self.options]
        return np.array([p for p, _ in picked]), np.array([label for _, label in picked], dtype=bool)


def alternatives_of(rows: list[dict]) -> tuple[np.ndarray, list[dict]]:
    """Every row's alternatives in row order, with the index of the row each belongs to."""
    owners = np.array([i for i, r in enumerate(rows) for _ in r["alternatives"]], dtype=np.int64)
    return owners, [a for r in rows for a in r["alternatives"]]


def rows_features(rows: list[dict]) -> list[dict]:
    return [r["features"] for r in rows]


def choose_margin(judged: Judged, answerable: np.ndarray) -> float:
    """The margin with the best excerpt hit@1 on the answerable questions, averaged over the
    files; on a tie, the larger margin (the fused order stays unless the evidence is clear)."""
    files = sorted({r["file"] for r in judged.rows})
    file_of = np.array([r["file"] for r in judged.rows])

    def macro_hit(margin: float) -> float:
        labels = judged.chosen(margin)[1]
        return round(float(np.mean([labels[answerable & (file_of == f)].mean() for f in files])), 4)

    scores = {margin: macro_hit(margin) for margin in MARGINS}
    log.info("second opinion, macro excerpt hit@1 by margin (out of fold): %s", scores)
    return max(MARGINS, key=lambda m: (scores[m], m))


def figures(rows: list[dict], probabilities: np.ndarray, cut: float, labels: np.ndarray | None = None) -> dict:
    shown = probabilities >= cut
    label = np.array([r["label"] for r in rows], dtype=bool) if labels is None else labels
    answerable = np.array([r["answerable"] for r in rows], dtype=bool)
    hard = np.array([r["kind"] == "removed" for r in rows], dtype=bool)
    easy = np.array([r["kind"] == "unrelated" for r in rows], dtype=bool)
    news = np.array([r["kind"] == "news" for r in rows], dtype=bool)

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
        "news_refused": share(~shown & news, news),
    }


def calibration(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """Per band of predicted probability: how many rows, the mean prediction, and how often the
    first excerpt did hold the gold (a calibrated model has the two close)."""
    labels = labels.astype(np.float64)
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
    fit = [r for r in rows if fitted_on(r)]
    test = [r for r in rows if r["held_out"]]
    if any("alternatives" not in r for r in rows):
        print("error: the cached features predate the second opinion: run without --reuse", file=sys.stderr)
        return 2
    if any("reader" not in r["features"] for r in rows):
        print("error: the cached features predate the reader (bot/reader.py): run without --reuse", file=sys.stderr)
        return 2
    x = matrix(fit, names)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    owners, others = alternatives_of(fit)
    z_others = (matrix(others, names) - mean) / scale
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

    def logit(p: np.ndarray) -> np.ndarray:
        return np.log(np.clip(p, 1e-9, 1)) - np.log(np.clip(1 - p, 1e-9, 1))

    def out_of_fold(boosted: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Stage-1 logits for every fitting row, and for its alternatives, from a model that did
        not see its article."""
        groups = [f"{r['file']}|{r['article']}" for r in fit]
        logits, other_logits = np.zeros(len(fit)), np.zeros(len(owners))
        for train, valid in GroupKFold(n_splits=5).split(z, answerable, groups):
            fold = model(boosted).fit(z[train], answerable[train])
            logits[valid] = logit(fold.predict_proba(z[valid])[:, 1])
            theirs = np.isin(owners, valid)
            if theirs.any():
                other_logits[theirs] = logit(fold.predict_proba(z_others[theirs])[:, 1])
        return logits, other_logits

    answerable_fit = np.array([r["answerable"] for r in fit], dtype=bool)
    oof_logits, oof_other_logits = out_of_fold()
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof_logits.reshape(-1, 1), holds)
    slope, offset = float(platt.coef_[0][0]), float(platt.intercept_[0])

    def calibrated(logits: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(slope * logits + offset)))

    judged = Judged(fit, calibrated(oof_logits), calibrated(oof_other_logits))
    # the second opinion's margin, then the cut for the confidence of the hit that comes first
    margin = choose_margin(judged, answerable_fit)
    oof, oof_labels = judged.chosen(margin)
    cut = cut_for(oof, answerable_fit, TARGET_ANSWERED)
    first_only = judged.chosen(NEVER)[0]
    first_only_cut = cut_for(first_only, answerable_fit, TARGET_ANSWERED)
    final = model().fit(z, answerable)
    # one logistic model: the calibration folds into its coefficients
    coefficients = final.coef_[0] * slope
    intercept = float(final.intercept_[0]) * slope + offset

    report = {
        "cut": round(cut, 4), "prefer_margin": margin,
        "fit_out_of_fold": figures(fit, oof, cut, oof_labels),
        "fit_out_of_fold_first_hit_only": {"cut": round(first_only_cut, 4), **figures(fit, first_only, first_only_cut)},
    }
    if args.compare:
        boosted = calibrated(out_of_fold(boosted=True)[0])
        report["compare_boosted_out_of_fold"] = figures(fit, boosted, cut_for(boosted, answerable_fit, TARGET_ANSWERED))

    def logits_of(features: list[dict]) -> np.ndarray:
        return (features_matrix(features, names) - mean) / scale @ coefficients + intercept

    # Mixed questions (an English question writing a term in Chinese, a Chinese one writing a word
    # in English) get their own Platt scaling of the model's logit, each fitted on the first 12
    # articles of its kind of XQuAD question (the model never saw one)
    mixed_rows = gather(args.bench, encoder, list(MIXED.values()), args.reuse)
    scaling: dict[str, tuple[float, float]] = {}
    for kind, file in MIXED.items():
        own = [r for r in mixed_rows if r["file"] == file and fitted_on(r) and mixed_of(r) == kind]
        platt_mixed = LogisticRegression(C=1e6, max_iter=1000).fit(
            logits_of(rows_features(own)).reshape(-1, 1), [r["label"] for r in own],
        )
        scaling[kind] = (float(platt_mixed.coef_[0][0]), float(platt_mixed.intercept_[0]))
        report[f"mixed_calibration:{kind}"] = {"rows": len(own), "slope": round(scaling[kind][0], 4),
                                                "offset": round(scaling[kind][1], 4)}

    settings = {name: value for kind, names in MIXED_CALIBRATION.items() for name, value in zip(names, scaling[kind])}
    fitted = ConfidenceModel(names, mean, scale, coefficients, intercept, settings)

    def predict(rows: list[dict], features: list[dict], calibrate_mixed: bool = True) -> np.ndarray:
        """What the bot's model says (``ConfidenceModel.probability``, mixed questions included)."""
        kinds = {id(r): mixed_of(r) if calibrate_mixed else "" for r in rows}
        return np.array([fitted.probability(Evidence(f, mixed=kinds[id(r)])) for r, f in zip(rows, features)])

    def held_out_figures(test: list[dict], prefix: str, calibrate_mixed: bool = True) -> None:
        """Figures with the second opinion at its margin and cut, and with the first hit only
        (at the cut that would have been chosen without it), file by file."""
        owners, others = alternatives_of(test)
        judged = Judged(
            test, predict(test, rows_features(test), calibrate_mixed),
            predict([test[i] for i in owners], rows_features(others), calibrate_mixed),
        )
        for name, (probabilities, labels), at in (
            (prefix, judged.chosen(margin), cut), (f"{prefix}_first_hit_only", judged.chosen(NEVER), first_only_cut),
        ):
            for file in (*FILES, *MIXED.values()):
                picked = [i for i, r in enumerate(test) if r["file"] == file]
                if picked:
                    report[f"{name}:{file}"] = figures(
                        [test[i] for i in picked], probabilities[picked], at, labels[picked],
                    )
        report[f"{prefix}_calibration"] = calibration(*judged.chosen(margin))

    held_out_figures(test + [r for r in mixed_rows if r["held_out"]], "held_out")
    held_out_figures([r for r in mixed_rows if not r["held_out"]], "mixed_fitting_half")
    held_out_figures([r for r in mixed_rows if r["held_out"]], "mixed_held_out_without_their_calibration", calibrate_mixed=False)
    if args.archive:  # the same halves among unrelated articles: does the probability still hold?
        archived = gather(args.bench, encoder, args.files, args.reuse, distractors=args.archive)
        held_out_figures([r for r in archived if r["held_out"]], "held_out_in_archive")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if not args.dry_run:
        about = {
            "fitted_on": "drcd_dev_simplified (first half of its articles), xquad_dev_en and xquad_dev_zh "
                         "(first 12 articles); refusal protocol + questions against the Panjin page; "
                         "mixed_*slope/offset: xquad_dev_mixed and xquad_dev_mixed_zh (bench/mixed_questions.py), "
                         "first 12 articles",
            "cut_chosen_on": "5-fold out-of-fold predictions of the fitting data, grouped by article: "
                             f"{TARGET_ANSWERED} of answerable questions answered",
            "held_out_figures": report,
            "command": "python bench/train_confidence.py",
        }
        ConfidenceModel(
            names, mean, scale, coefficients, intercept,
            {"min_confidence": cut, "prefer_margin": margin, **settings}, about,
        ).save(MODEL_PATH)
        print(f"written to {MODEL_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
