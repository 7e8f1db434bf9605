"""An index of N passages on one machine: load time, resident memory, p50/p95 per question.

    .venv/bin/python bench/scale.py 10000 100000 1000000
    .venv/bin/python bench/scale.py --backend milvus 10000     (Milvus Lite, INDEX_BACKEND=milvus)

Passages are realistic text made by recombining 2-6 sentences drawn from the shared benchmark
files (CMRC, DRCD, XQuAD-zh contexts and the 1,500 news items), each source sentence tokenised
once. **Their vectors are a stand-in**: random unit vectors, not the encoder's (encoding a
million passages would take days here); dense search cost does not depend on what the vectors
say, but dense *quality* at this size is not measured here. Questions are the CMRC trial's,
encoded by the real question encoder; everything after the index (retrieval, excerpts,
answer spans, confidence) is the product's own code. Each size is built once into
``~/.cache/newsqa/scale/N`` and measured in a fresh process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "bench"
DIMENSION = 384


def source_sentences() -> tuple[list[str], list[str]]:
    from embeddings.text import sentence_spans

    texts, titles = [], []
    for name in ("cmrc2018_trial.json", "drcd_dev_simplified.json", "xquad_dev_zh.json"):
        data = json.loads((BENCH / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            titles.append(str(article.get("title") or ""))
            texts += [p["context"] for p in article["paragraphs"]]
    for line in (BENCH / "distractors" / "xwlb-2018-sample.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        titles.append(record["title"])
        texts += record["text"].split("\n")
    sentences = list(dict.fromkeys(t[a:b] for t in texts for a, b in sentence_spans(t) if b - a >= 6))
    return sentences, [t for t in dict.fromkeys(titles) if t]


def build(size: int, folder: Path, backend: str = "faiss") -> None:
    from embeddings import lexical
    from embeddings.documents import Passage, stable_id
    from embeddings.index_store import Manifest, write_index
    from embeddings.text import sentence_spans

    started = time.perf_counter()
    sentences, titles = source_sentences()
    sentence_tokens = [lexical.tokens(s) for s in sentences]
    title_tokens = [lexical.tokens(t) for t in titles]
    print(f"  {len(sentences)} source sentences tokenised in {time.perf_counter() - started:.0f} s", flush=True)
    rng = np.random.default_rng(size)
    passages, tokens = [], []
    article = 0
    for row in range(size):
        if row % 8 == 0:
            article = int(rng.integers(len(titles)))
        picked = rng.integers(len(sentences), size=int(rng.integers(2, 7)))
        text = "".join(sentences[i] for i in picked)
        passages.append(Passage(
            id=stable_id("scale", str(row)), text=text, article_id=stable_id("scale-article", str(row // 8)),
            title=titles[article], ordinal=row % 8 + 1, source=f"scale-{size}.jsonl",
            sentences=sentence_spans(text),
        ))
        tokens.append(title_tokens[article] + [t for i in picked for t in sentence_tokens[i]])
    count = sum(len(p.sentences) for p in passages)
    print(f"  {size} passages, {count} sentences made in {time.perf_counter() - started:.0f} s", flush=True)

    def unit_rows(rows: int) -> np.ndarray:
        out = np.empty((rows, DIMENSION), dtype=np.float32)
        for start in range(0, rows, 200_000):
            block = rng.standard_normal((min(200_000, rows - start), DIMENSION), dtype=np.float32)
            out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out

    manifest = Manifest(model="multilingual-e5-small", dimension=DIMENSION, corpus_fingerprint=f"scale-{size}",
                        query_prompt="query: ", passage_prompt="passage: ", files=1, articles=size // 8 + 1,
                        passages=size, sentences=count)
    if backend == "milvus":  # the product's own writer, with the stand-in vectors as its encoder
        from embeddings.milvus_build import update_collection

        update_collection(settings_for(folder, backend), passages, manifest, True,
                          lambda texts: (unit_rows(len(texts)), DIMENSION), progress=True)
    else:
        write_index(folder, manifest, passages, unit_rows(size), unit_rows(count), tokens)
    print(f"  index written in {time.perf_counter() - started:.0f} s; build peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def settings_for(folder: Path, backend: str):
    from dataclasses import replace

    from embeddings.config import IndexSettings

    return replace(IndexSettings.from_env(), index_dir=folder, backend=backend)


def measure(folder: Path, backend: str) -> dict:
    """Runs in a fresh process: what a bot starting on this index pays."""
    from bot.answering import Answerer
    from bot.config import AnswerSettings
    from bot.evaluate import squad_corpus
    from embeddings.encoder import query_encoder
    from embeddings.index_backend import open_index

    settings = settings_for(folder, backend)
    started = time.perf_counter()
    index = open_index(settings)
    load_seconds = time.perf_counter() - started
    after_load = resident_mb()
    answerer = Answerer(index, query_encoder(settings), AnswerSettings(), index_settings=settings)
    answerer.warm_up()
    _, cases = squad_corpus(BENCH / "cmrc2018_trial.json", Path.home() / ".cache" / "newsqa")
    questions = [c.question for c in cases if c.question.strip()][:200]
    answerer.answer(questions[0])
    latencies = []
    for question in questions:
        begun = time.perf_counter()
        answerer.answer(question)
        latencies.append((time.perf_counter() - begun) * 1000)
    latencies.sort()
    return {
        "passages": index.passage_count, "dense": f"{backend} {index.manifest.dense_index}",
        "load_s": round(load_seconds, 2), "rss_after_load_mb": round(after_load),
        "rss_after_questions_mb": round(resident_mb()),
        "p50_ms": round(latencies[len(latencies) // 2], 1), "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "questions": len(latencies),
    }


def main() -> int:
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3])))
        return 0
    arguments = sys.argv[1:]
    backend = "faiss"
    if arguments[:1] == ["--backend"]:
        backend, arguments = arguments[1], arguments[2:]
    sizes = [int(n) for n in arguments] or [10_000, 100_000, 1_000_000]
    from embeddings.logs import configure_logging
    from embeddings.index_backend import index_version
    from embeddings.milvus_index import disconnect

    configure_logging()
    rows = []
    for size in sizes:
        folder = Path.home() / ".cache" / "newsqa" / "scale" / (str(size) if backend == "faiss" else f"{backend}-{size}")
        if index_version(settings_for(folder, backend)) is None:
            print(f"building {size} passages in {folder}", flush=True)
            build(size, folder, backend)
        if backend == "milvus":
            disconnect(settings_for(folder, backend))  # Milvus Lite: one process per file
        output = subprocess.run([sys.executable, __file__, "--measure", str(folder), backend], check=True,
                                capture_output=True, text=True, env=dict(os.environ)).stdout
        rows.append(json.loads(output.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print("\n| passages | dense index | load | resident after load | resident after 200 questions | p50 | p95 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['passages']:,} | {r['dense']} | {r['load_s']} s | {r['rss_after_load_mb']} MB | "
              f"{r['rss_after_questions_mb']} MB | {r['p50_ms']} ms | {r['p95_ms']} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
