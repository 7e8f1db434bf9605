"""Other ways to fit the same features, out of fold on the fitting data: are the models at a plateau?

    .venv/bin/python bench/plateau_checks.py [--part excerpt|confidence|confidence-more|all] [--shuffles N]

Reads the features the training scripts keep in the model cache (run
``bench/train_excerpt_ranker.py`` and ``bench/train_confidence.py`` once first). Nothing here
is shipped and no held-out question is read: each line is scored out of fold on the fitting
data only, with the folds (grouped by article) and the choices of the shipped training scripts,
so that it compares with their own out-of-fold figure, printed first as "shipped".
- excerpt: other LightGBM settings for the excerpt ranker (slower learning with more trees,
  bagging over seeds, another ranking loss, fewer features per tree, L2), and a length
  allowance of its own for questions that ask why or how;
- confidence: the logistic model on piecewise-linear splines of each feature, and with each
  evidence feature bound to push only the way its meaning says; then (``--part confidence-more``)
  other regularisation, fitting without the questions asked of the unrelated Panjin page (the easy
  negatives), the files weighed equally, each evidence measure against the same measure of the
  next two hits, the reader's logit and the token alignment against the next two hits' (the
  twenty-third session), and a how-many question's unit (几位, 多少年) missing beside a number in the
  excerpt, and the easy negatives: the questions asked of unrelated news beside, or instead of,
  those asked of the Panjin page. Those are scored as the mean of ``--shuffles`` shufflings of the
  article folds (the figure moves by about a point from one split to the next).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gold_passages import FILES  # noqa: E402
import train_confidence  # noqa: E402
import train_excerpt_ranker as excerpt_training  # noqa: E402
from bot.excerpt import FEATURES, length_cost  # noqa: E402
from embeddings.config import IndexSettings  # noqa: E402

SHIPPED = (15, 50, True)  # leaves, min per leaf, files weighed equally (the configuration chosen)
RANKER_VARIANTS = {
    "shipped": ({}, (0,)),
    "learning rate 0.05, 200 trees": ({"learning_rate": 0.05, "n_estimators": 200}, (0,)),
    "bagging 0.8 rows and columns, 5 seeds averaged": (
        {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8}, (0, 1, 2, 3, 4)),
    "rank_xendcg loss": ({"objective": "rank_xendcg"}, (0,)),
    "0.7 of the features per tree": ({"colsample_bytree": 0.7}, (0,)),
    "L2 5": ({"reg_lambda": 5.0}, (0,)),
}
# each evidence feature's meaning says which way it may push the answerability (others are free)
MORE_IS_BETTER = set(
    "dense sentence_dense excerpt_dense dense_margin dense_next answer_probability coverage coverage_margin "
    "excerpt_coverage sentence_coverage longest_match specific_coverage bigram_coverage rarest_present "
    "rare_share_present best_is_bm25_top best_is_dense_top lexical_evidence fused_margin align_mean align_min "
    "align_q25 latin_known_present".split()
)
LESS_IS_BETTER = set(
    "numbers_missing missing_words rarest_word_missing excerpt_missing_words unknown_terms type_missing "
    "dense_behind_best bm25_ratio".split()
)


def cached(name: str) -> Path:
    path = IndexSettings.from_env().cache_dir / "eval" / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run the training script that writes it once (see this file's doc)")
    return path


def excerpt_checks() -> None:
    from sklearn.model_selection import GroupKFold

    groups = [g for f in FILES for g in json.loads(cached(f"excerpt-features-{f}.json").read_text(encoding="utf-8"))]
    fit = [g for g in groups if not g["held_out"]]
    articles = [f"{g['file']}|{g['article']}" for g in fit]

    def out_of_fold(params: dict, seeds: tuple[int, ...]) -> list[np.ndarray]:
        scores: list[np.ndarray] = [np.zeros(0)] * len(fit)
        for train, valid in GroupKFold(n_splits=3).split(fit, groups=articles):
            models = [excerpt_training.fit_ranker([fit[i] for i in train], *SHIPPED, **params, random_state=seed)
                      for seed in seeds]
            for i in valid:
                table = np.array(fit[i]["features"])
                scores[i] = np.mean([m.scores(table, FEATURES) for m in models], axis=0)
        return scores

    def per_file(scores: list[np.ndarray], choose) -> str:
        hits = [choose([g for g in fit if g["file"] == f], [s for g, s in zip(fit, scores) if g["file"] == f])[0]
                for f in FILES]
        return f"macro {np.mean(hits):.4f} (" + ", ".join(f"{f} {h:.3f}" for f, h in zip(FILES, hits)) + ")"

    for name, (params, seeds) in RANKER_VARIANTS.items():
        scores = out_of_fold(params, seeds)
        penalty, _ = excerpt_training.penalty_for(fit, scores)
        print(f"excerpt ranker, {name}: {per_file(scores, lambda gs, ss: excerpt_training.choose(gs, ss, penalty))}"
              f"; length penalty {penalty}", flush=True)
        if name == "shipped":
            shipped_scores, shipped_penalty = scores, penalty

    # questions that ask why or how get a length allowance of their own (both chosen on this grid)
    reason = FEATURES.index("asks_reason")

    def choose_split(gs, ss, factoid: tuple[float, float], explanation: tuple[float, float]):
        hits, chars = [], []
        for g, s in zip(gs, ss):
            size = np.array(g["chars"], dtype=np.float64)
            length = explanation if g["features"][0][reason] > 0.5 else factoid
            best = int(np.argmax(s - length_cost(size, *length)))
            hits.append(g["labels"][best])
            chars.append(size[best])
        return float(np.mean(hits)), float(np.mean(chars))

    best = None
    for free in (40.0, 60.0, 80.0, 100.0):
        for penalty in np.arange(0.0, 3.01, 0.1):
            explanation = (round(float(penalty), 1), free)
            if choose_split(fit, shipped_scores, shipped_penalty, explanation)[1] > excerpt_training.TARGET_CHARS:
                continue
            macro = np.mean([choose_split([g for g in fit if g["file"] == f],
                                          [s for g, s in zip(fit, shipped_scores) if g["file"] == f],
                                          shipped_penalty, explanation)[0] for f in FILES])
            if best is None or macro > best[0]:
                best = (macro, explanation)
    print(f"excerpt ranker, shipped trees, why/how questions' own length allowance {best[1]}: "
          f"{per_file(shipped_scores, lambda gs, ss: choose_split(gs, ss, shipped_penalty, best[1]))}", flush=True)


def confidence_fitting_rows(news: bool = False) -> list[dict]:
    """The rows ``bench/train_confidence.py`` kept in the cache that it fits the confidence on
    (with ``news``, also the fitting halves' questions asked of unrelated news, which it does not)."""
    return [row for f in train_confidence.FILES
            for row in map(json.loads, cached(f"confidence-features-{f}.jsonl").read_text(encoding="utf-8").splitlines())
            if train_confidence.fitted_on(row) or (news and row["kind"] == "news" and train_confidence.fitting_half(row))]


def confidence_checks() -> None:
    from scipy.optimize import minimize
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import SplineTransformer

    fit = confidence_fitting_rows()
    names = sorted(fit[0]["features"])
    x = train_confidence.matrix(fit, names)
    answerable = np.array([r["answerable"] or r["label"] for r in fit], dtype=int)
    asked = np.array([r["answerable"] for r in fit], dtype=bool)
    articles = [f"{r['file']}|{r['article']}" for r in fit]

    class SignBound:
        """Logistic regression (sklearn's loss and L2) with each coefficient's sign bound."""

        def fit(self, z, y):
            d = z.shape[1]

            def loss(w):
                logit = z @ w[:d] + w[d]
                p = 1 / (1 + np.exp(-logit))
                gradient = np.concatenate([z.T @ (p - y), [np.sum(p - y)]])
                gradient[:d] += w[:d]
                return float(np.sum(np.logaddexp(0, logit) - y * logit) + 0.5 * w[:d] @ w[:d]), gradient

            bounds = [(0, None) if n in MORE_IS_BETTER else (None, 0) if n in LESS_IS_BETTER else (None, None)
                      for n in names] + [(None, None)]
            self.w = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
            return self

        def decision_function(self, z):
            return z @ self.w[:-1] + self.w[-1]

    def standard(train, valid):
        mean, scale = train.mean(axis=0), train.std(axis=0) + 1e-9
        return (train - mean) / scale, (valid - mean) / scale

    def splines(knots: int):
        def transform(train, valid):
            spline = SplineTransformer(n_knots=knots, degree=1, knots="quantile", extrapolation="linear")
            return standard(spline.fit_transform(train), spline.transform(valid))
        return transform

    variants = {
        "shipped (logistic regression)": (lambda: LogisticRegression(C=1.0, max_iter=5000), standard),
        "piecewise-linear splines, 4 knots, C 0.03": (lambda: LogisticRegression(C=0.03, max_iter=5000), splines(4)),
        "piecewise-linear splines, 6 knots, C 0.03": (lambda: LogisticRegression(C=0.03, max_iter=5000), splines(6)),
        "signs bound by meaning": (SignBound, standard),
    }
    for name, (model, transform) in variants.items():
        logits = np.zeros(len(fit))
        for train, valid in GroupKFold(n_splits=5).split(x, answerable, articles):
            z_train, z_valid = transform(x[train], x[valid])
            logits[valid] = model().fit(z_train, answerable[train]).decision_function(z_valid)
        cut = train_confidence.cut_for(logits, asked, train_confidence.TARGET_ANSWERED)
        found = train_confidence.figures(fit, logits, cut)
        print(f"confidence, {name}: answered {found['answered']:.3f}, refused {found['refused']:.4f}, "
              f"confident wrong {found['confident_wrong']:.4f}", flush=True)


# Chinese measure words and units (a closed class of the grammar), for "几位", "多少年", "第几届"
UNITS = sorted(set("""个 位 名 人 年 岁 次 届 天 日 月 周 小时 分钟 秒 世纪 座 所 家 条 种 部 本 件 台 辆 架 艘 只 头
    匹 张 项 层 场 局 分 米 公尺 公里 千米 英里 英尺 平方公里 平方米 公顷 亩 吨 公斤 千克 克 磅 元 美元 欧元 英镑 倍 度 篇
    首 集 季 章 册 卷 轮 枚 颗 块 片 支 队 国 省 县 栋 间 户 票 席 代 期 段 道 起 例 股 根 栏 回 遍 辈 级 等 阶 码 英寸
    厘米 毫米 公升 升 千瓦 瓦 伏 赫兹 字节""".split()), key=len, reverse=True)
_UNIT = "(?:" + "|".join(map(re.escape, UNITS)) + ")"
_ASKED_UNIT = re.compile(r"(第?)(?:几|多少)[十百千万亿]*(" + _UNIT + ")")
_NUMBER = r"(?:[0-9０-９][0-9０-９,.，．]*|[零〇一二三四五六七八九十百千万亿两半数几]+)"


def unit_missing(question: str, excerpt: str) -> float:
    """1 when the question asks how many of a unit and no number in the excerpt carries it."""
    asked = _ASKED_UNIT.search(question)
    if not asked:
        return 0.0
    said = ("第" if asked.group(1) else "") + _NUMBER + r"\s*(?:多|余|来)?\s*[万亿千百]?\s*" + re.escape(asked.group(2))
    return float(not re.search(said, excerpt))


def shuffled_folds(articles: list[str], seed: int, count: int = 5) -> np.ndarray:
    """Each row's fold: its article's place in one shuffling of the articles, modulo ``count``."""
    groups = sorted(set(articles))
    order = np.random.RandomState(seed).permutation(len(groups))
    fold_of = {g: order[i] % count for i, g in enumerate(groups)}
    return np.array([fold_of[a] for a in articles])


def out_of_fold_logits(z: np.ndarray, answerable: np.ndarray, folds: np.ndarray, c: float = 1.0,
                       kept: np.ndarray | None = None, weights: np.ndarray | None = None) -> np.ndarray:
    """Every row's logistic logit from a model fitted on the (kept) rows of the other folds."""
    from sklearn.linear_model import LogisticRegression

    logits = np.zeros(len(z))
    for k in np.unique(folds):
        train = (folds != k) & (kept if kept is not None else True)
        model = LogisticRegression(C=c, max_iter=5000).fit(
            z[train], answerable[train], sample_weight=None if weights is None else weights[train])
        logits[folds == k] = model.decision_function(z[folds == k])
    return logits


def more_confidence_checks(shuffles: int) -> None:
    """Ways to fit or extend the shipped confidence features, each the mean over ``shuffles``
    shufflings of the article folds (first hit only, refused at 0.95 answered, and the share of
    the questions asked of unrelated news refused: they ride along, fitted on by the last two
    variants only)."""
    from collections import Counter

    fit = confidence_fitting_rows(news=True)
    names = sorted(fit[0]["features"])
    measures = ["align_mean", "align_min", "align_q25", "answer_probability", "excerpt_coverage",
                "sentence_coverage", "excerpt_dense", "sentence_dense", "missing_words", "excerpt_missing_words",
                "longest_match", "bigram_coverage", "specific_coverage", "type_missing"]

    def against_next_hits(row: dict) -> list[float]:
        others = [a["features"] for a in row["alternatives"]]
        return [row["features"][m] - max((o[m] for o in others), default=row["features"][m]) for m in measures]

    x = train_confidence.matrix(fit, names)
    extra = {
        "against the next two hits": np.array([against_next_hits(r) for r in fit]),
        "unit missing": np.array([[unit_missing(r["question"], r["excerpt"])] for r in fit]),
        "the reader against the next two hits": np.array([
            [row["features"][m] - max((a["features"][m] for a in row["alternatives"]), default=row["features"][m])
             for m in ("reader", "align_mean")] for row in fit]),
    }
    answerable = np.array([r["answerable"] or r["label"] for r in fit], dtype=int)
    asked = np.array([r["answerable"] for r in fit], dtype=bool)
    easy = np.array([r["kind"] == "unrelated" for r in fit], dtype=bool)
    news = np.array([r["kind"] == "news" for r in fit], dtype=bool)
    shipped = ~news
    files = Counter(r["file"] for r, kept in zip(fit, shipped) if kept)
    equal = np.array([shipped.sum() / len(files) / files[r["file"]] for r in fit])
    articles = [f"{r['file']}|{r['article']}" for r in fit]
    variants = {  # name: (C, rows fitted, row weights, extra columns)
        "shipped": (1.0, shipped, None, None),
        "C 0.3": (0.3, shipped, None, None),
        "C 3": (3.0, shipped, None, None),
        "without the questions asked of the Panjin page": (1.0, shipped & ~easy, None, None),
        "files weighed equally": (1.0, shipped, equal, None),
        "each measure against the next two hits' (14 more)": (1.0, shipped, None, "against the next two hits"),
        "how-many unit missing from the excerpt": (1.0, shipped, None, "unit missing"),
        "the reader's logit and align_mean against the next two hits'": (
            1.0, shipped, None, "the reader against the next two hits"),
        "with the questions asked of unrelated news": (1.0, None, None, None),
        "with them instead of those asked of the Panjin page": (1.0, ~easy, None, None),
    }
    for name, (c, kept, weights, more) in variants.items():
        features = np.hstack([x, extra[more]]) if more else x
        z = (features - features[shipped].mean(axis=0)) / (features[shipped].std(axis=0) + 1e-9)
        refused, news_refused = [], []
        for seed in range(shuffles):
            logits = out_of_fold_logits(z, answerable, shuffled_folds(articles, seed), c, kept, weights)
            cut = train_confidence.cut_for(logits, asked, train_confidence.TARGET_ANSWERED)
            found = train_confidence.figures(fit, logits, cut)
            refused.append(found["refused"])
            news_refused.append(found["news_refused"])
        print(f"confidence, {name}: refused {np.mean(refused):.4f} at 0.95 answered "
              f"(mean of {shuffles} fold shufflings; lowest {min(refused):.4f}, highest {max(refused):.4f}); "
              f"news refused {np.mean(news_refused):.4f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("excerpt", "confidence", "confidence-more", "all"), default="all")
    parser.add_argument("--shuffles", type=int, default=10, help="fold shufflings for confidence-more")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.part in ("excerpt", "all"):
        excerpt_checks()
    if args.part in ("confidence", "all"):
        confidence_checks()
    if args.part in ("confidence-more", "all"):
        more_confidence_checks(args.shuffles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
