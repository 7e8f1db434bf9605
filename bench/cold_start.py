"""Seconds from start to exit of ``python -m bot ask "…"`` with each question encoder.

    .venv/bin/python bench/cold_start.py [--runs 3]

Prints the median wall time per engine, and each engine's ratio to the torch
(sentence-transformers) path measured in the same run. The index of ``corpus/`` must be built.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

QUESTION = "得胜村的村歌叫什么?"


def run_once(engine: str) -> float:
    env = dict(os.environ, EMBEDDING_ENGINE=engine)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bot", "ask", QUESTION], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for engine in ("torch", "onnx", "onnx-int8"):
        results[engine] = statistics.median(run_once(engine) for _ in range(args.runs))
        print(f"{engine:10s} median {results[engine]:5.2f} s over {args.runs} runs "
              f"(ratio to torch {results[engine] / results.get('torch', results[engine]):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
