"""Build-side encoding speed: sentence-transformers (today's build path) vs the ONNX export.

    .venv/bin/python bench/encoder_speed.py [--passages 40]

Encodes the first CMRC trial contexts and all their sentences (what a build encodes) with each
engine in one process; prints texts/s, the ratio to sentence-transformers and the smallest
cosine to its vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings.config import IndexSettings  # noqa: E402
from embeddings.encoder import Encoder, prepare_model  # noqa: E402
from embeddings.onnx_encoder import OnnxEncoder  # noqa: E402
from embeddings.onnx_model import prepare_onnx  # noqa: E402
from embeddings.text import sentence_spans  # noqa: E402

CMRC = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "cmrc2018_trial.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=40)
    args = parser.parse_args()
    data = json.loads(CMRC.read_text(encoding="utf-8"))
    contexts = [p["context"] for a in data["data"] for p in a["paragraphs"]][: args.passages]
    texts = contexts + [c[a:b] for c in contexts for a, b in sentence_spans(c)]
    print(f"{len(texts)} texts ({len(contexts)} passages and their sentences), {sum(map(len, texts))} characters")
    settings = IndexSettings.from_env()
    folder = Path(prepare_model(settings))
    prepare_onnx(settings, folder)
    torch_encoder = Encoder(settings)
    torch_encoder.encode_passages(["warm-up"])
    started = time.perf_counter()
    reference = torch_encoder.encode_passages(texts)
    baseline = time.perf_counter() - started
    print(f"sentence-transformers ({'bfloat16' if torch_encoder.bfloat16 else 'float32'}), batch "
          f"{settings.batch_size}: {len(texts) / baseline:.1f} texts/s")
    for engine in ("onnx", "onnx-int8"):
        for batch in (4, 8, 16):
            encoder = OnnxEncoder(replace(settings, batch_size=batch), folder, engine)
            encoder.encode_passages(["warm-up"])
            started = time.perf_counter()
            vectors = encoder.encode_passages(texts)
            seconds = time.perf_counter() - started
            cosine = float((vectors * reference).sum(axis=1).min())
            print(f"{engine:9s} batch {batch:2d}: {len(texts) / seconds:5.1f} texts/s, "
                  f"ratio {baseline / seconds:.2f}, min cosine {cosine:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
