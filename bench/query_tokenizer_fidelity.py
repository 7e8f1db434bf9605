"""The memory-mapped question tokenizer against ``tokenizers`` with the full ``tokenizer.json``.

    .venv/bin/python bench/query_tokenizer_fidelity.py [--bench DIR]

Tokenises every question (with the query prompt) and every context (with the passage prompt)
of the four shared SQuAD-format files both ways, prints how many differ (the product needs
zero), and each way's opening time and time per question in this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import prepare_model  # noqa: E402
from embeddings.query_tokenizer import open_query_tokenizer, prepare_query_tokenizer  # noqa: E402

FILES = ("cmrc2018_trial", "drcd_dev_simplified", "xquad_dev_en", "xquad_dev_zh")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "bench")
    args = parser.parse_args()
    from tokenizers import Tokenizer

    folder = Path(prepare_model(IndexSettings.from_env()))
    texts: list[str] = []
    for name in FILES:
        data = json.loads((args.bench / f"{name}.json").read_text(encoding="utf-8"))
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                texts.append("passage: " + paragraph["context"])
                texts += ["query: " + qa["question"] for qa in paragraph["qas"]]
    with tempfile.TemporaryDirectory() as cache:
        prepare_query_tokenizer(folder, Path(cache))
        started = time.perf_counter()
        fast = open_query_tokenizer(folder, Path(cache), max_tokens=512)
        fast_open = time.perf_counter() - started
        started = time.perf_counter()
        full = Tokenizer.from_file(str(folder / "tokenizer.json"))
        full.no_padding()
        full.enable_truncation(512)
        full_open = time.perf_counter() - started
        differ = [t for t in texts if fast.ids(t) != full.encode(t).ids]
        questions = [t for t in texts if t.startswith("query: ")][:1000]
        fast_times, full_times = [], []
        for text in questions:
            started = time.perf_counter()
            fast.ids(text)
            fast_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            full.encode(text)
            full_times.append(time.perf_counter() - started)
    print(f"texts (questions and contexts): {len(texts)}; with differing ids: {len(differ)}")
    for text in differ[:5]:
        print("  differs:", text[:80])
    print(f"open: question tokenizer {fast_open * 1000:.1f} ms, tokenizer.json {full_open * 1000:.0f} ms")
    print(f"per question (median of {len(questions)}): question tokenizer {statistics.median(fast_times) * 1000:.3f} ms, "
          f"tokenizer.json {statistics.median(full_times) * 1000:.3f} ms")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
