"""The two index backends side by side: FAISS + bm25s files, and Milvus (Lite here).

Run: .venv/bin/python bench/backends.py [QUESTIONS ...]
     (default: tests/data/panjin_questions.jsonl over corpus/, and
      ../shared/bench/cmrc2018_trial.json over its own contexts)

For each corpus and backend, in one process with one encoder (loaded and warmed beforehand):
a full build (encoding included: the same for both), a rebuild with nothing changed, an
incremental update (one file of three paragraphs added), a delete (that file removed), then
every question through the whole pipeline: passage@1, excerpt hit@1, p50/p95. Ratios are
Milvus against FAISS in the same run. Nothing here is fitted: both backends use the shipped
models and settings.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering import Answerer  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.evaluate import evaluate, load_jsonl_cases, squad_corpus  # noqa: E402
from embeddings.build import build_index  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder, query_encoder  # noqa: E402
from embeddings.index_backend import open_index  # noqa: E402
from embeddings.milvus_index import disconnect  # noqa: E402

EXTRA = (
    "新建图书馆开放\n\n盘锦市新建的鹤乡图书馆于本月开放，馆藏图书二十万册。\n\n"
    "图书馆设有少儿阅览区和古籍修复室，每周一闭馆。\n\n开馆首日接待读者三千余人次。\n"
)


def corpus_and_cases(file: Path, settings: IndexSettings):
    if file.suffix == ".json":
        folder, cases = squad_corpus(file, settings.cache_dir)
        return folder / "corpus", cases
    return PROJECT_ROOT / "corpus", load_jsonl_cases(file)


def run_backend(backend: str, corpus: Path, cases, settings: IndexSettings, encoder: Encoder) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "corpus"
        shutil.copytree(corpus, copy)
        run = replace(settings, corpus_dir=copy, index_dir=Path(folder) / "index", backend=backend)
        full = build_index(run, progress=False, encoder=encoder)
        same = build_index(run, progress=False, encoder=encoder)
        (copy / "extra.txt").write_text(EXTRA, encoding="utf-8")
        added = build_index(run, progress=False, encoder=encoder)
        (copy / "extra.txt").unlink()
        removed = build_index(run, progress=False, encoder=encoder)
        answerer = Answerer(open_index(run, expected_model=run.model), query_encoder(run), AnswerSettings(),
                            index_settings=run)
        answerer.warm_up()
        figures = evaluate(answerer, cases)
        if backend == "milvus":
            disconnect(run)
    return {
        "full_s": full.seconds, "unchanged_s": same.seconds, "add_s": added.seconds,
        "add_encoded": added.encoded, "delete_s": removed.seconds, "passages": full.passages,
        **{k: figures[k] for k in ("passage_recall@1", "excerpt_hit@1", "latency_ms_p50", "latency_ms_p95")},
    }


def _cell(column: str, value) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.2f}" if column.endswith("_s") else f"{value:.1f}" if column.startswith("latency") else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", nargs="*", type=Path, default=[
        PROJECT_ROOT / "tests/data/panjin_questions.jsonl", PROJECT_ROOT.parent / "shared/bench/cmrc2018_trial.json",
    ])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = IndexSettings.from_env()
    encoder = Encoder(settings)
    encoder.encode_passages(["预热 warm-up"])
    columns = ("passages", "full_s", "unchanged_s", "add_s", "delete_s", "passage_recall@1", "excerpt_hit@1",
               "latency_ms_p50", "latency_ms_p95")
    print("| questions | backend | " + " | ".join(columns) + " |")
    print("|" + "---|" * (len(columns) + 2))
    for file in args.questions:
        corpus, cases = corpus_and_cases(file, settings)
        results = {b: run_backend(b, corpus, cases, settings, encoder) for b in ("faiss", "milvus")}
        for backend, figures in results.items():
            cells = [_cell(c, figures[c]) for c in columns]
            print(f"| {file.name} | {backend} | " + " | ".join(cells) + " |")
        ratios = [
            f"{results['milvus'][c] / results['faiss'][c]:.2f}x" if c.endswith("_s") or c.startswith("latency")
            else "" for c in columns
        ]
        print(f"| {file.name} | milvus / faiss | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
