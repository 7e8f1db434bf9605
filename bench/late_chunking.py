"""Excerpt hit@1 with sentence vectors encoded separately (the build's way) vs late-chunked.

    .venv/bin/python bench/late_chunking.py [FILE ...]   (default: CMRC trial and DRCD dev)

Late chunking: one forward pass per passage, each sentence's vector the mean of the passage's
contextual token vectors over the sentence's characters (``passage: `` prompt included in the
pass, special tokens left out). Sentences past the encoder's 512-token window keep their
separately encoded vector (counted). Everything else is the same index and the same pipeline,
in the same process; it also prints the seconds each way of making the sentence vectors takes.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering import Answerer  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.evaluate import evaluate, prepare_squad  # noqa: E402
from embeddings.config import IndexSettings  # noqa: E402
from embeddings.encoder import prepare_model  # noqa: E402
from embeddings.index_store import load_index  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from embeddings.onnx_encoder import OnnxEncoder  # noqa: E402
from embeddings.text import to_simplified  # noqa: E402

BENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "bench"
DEFAULT_FILES = [BENCH / "cmrc2018_trial.json", BENCH / "drcd_dev_simplified.json"]


def late_sentence_vectors(encoder: OnnxEncoder, index) -> tuple[np.ndarray, int]:
    vectors = index.sentence_vectors.copy()
    kept_separate = 0
    prompt = encoder.passage_prompt
    for row, passage in enumerate(index.passages):
        encoding = encoder.tokenizer.encode(prompt + to_simplified(passage.text))
        hidden = encoder.session.run(None, {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(encoding.ids)), dtype=np.int64),
        })[0][0]
        offsets = np.array(encoding.offsets)
        real = offsets[:, 1] > offsets[:, 0]
        first = int(index.sentence_rows[row])
        for k, (start, end) in enumerate(passage.sentences):
            inside = real & (offsets[:, 0] < end + len(prompt)) & (offsets[:, 1] > start + len(prompt))
            if not inside.any():
                kept_separate += 1
                continue
            vector = hidden[inside].mean(axis=0)
            vectors[first + k] = vector / np.linalg.norm(vector)
    return vectors, kept_separate


def main() -> int:
    configure_logging()
    files = [Path(f) for f in sys.argv[1:]] or DEFAULT_FILES
    settings = IndexSettings.from_env()
    encoder = OnnxEncoder(settings, Path(prepare_model(settings)), "onnx")
    for file in files:
        index_dir, cases, _ = prepare_squad(file, progress=False)
        index = load_index(index_dir)
        sentences = sum(len(p.sentences) for p in index.passages)
        started = time.perf_counter()
        encoder.encode_passages([to_simplified(t) for p in index.passages[:50]
                                 for t in (p.text[a:b] for a, b in p.sentences)])
        separate_seconds = (time.perf_counter() - started) / sum(len(p.sentences) for p in index.passages[:50]) * sentences
        started = time.perf_counter()
        late, kept = late_sentence_vectors(encoder, index)
        late_seconds = time.perf_counter() - started
        results = {}
        for name, vectors in (("separate", index.sentence_vectors), ("late", late)):
            answerer = Answerer(replace(index, sentence_vectors=vectors), encoder, AnswerSettings())
            results[name] = evaluate(answerer, cases)
        print(f"{file.name}: {len(index.passages)} passages, {sentences} sentences "
              f"({kept} past the window keep their own vector)")
        for name in ("separate", "late"):
            r = results[name]
            print(f"  {name:8s} excerpt hit@1 {r['excerpt_hit@1']:.3f}  answer hit@1 {r['answer_hit@1']:.3f}  "
                  f"mean excerpt chars {r['mean_excerpt_chars']:.1f}")
        print(f"  sentence vectors: separately ~{separate_seconds:.0f} s (extrapolated from 50 passages' "
              f"sentences), late-chunked {late_seconds:.0f} s (all passages, one pass each, ONNX float32)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
