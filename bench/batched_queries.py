"""The encoder with a run's questions encoded ahead in large batches, for training scripts."""

from __future__ import annotations

import numpy as np

from bot.question import parse_question
from embeddings.encoder import Encoder, TokenStates


class BatchedQueries:
    """The encoder, with the questions of a run encoded ahead in large batches (one at a time
    is 5-10x slower); everything else passes through. Used for training data only: latency
    figures come from ``python -m bot eval``, which encodes as the product does."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}
        self._answering_encoder = None

    def prepare(self, questions: list[str]) -> None:
        texts = list(dict.fromkeys(parse_question(q).simplified for q in questions if q.strip()))
        texts = [t for t in texts if t not in self.vectors]
        for start in range(0, len(texts), 256):
            chunk = texts[start : start + 256]
            self.vectors.update(zip(chunk, self.encoder.encode_queries(chunk)))

    def encode_query(self, text: str) -> np.ndarray:
        found = self.vectors.get(text)
        return found if found is not None else self.encoder.encode_query(text)

    def encode_question(self, text: str) -> tuple[np.ndarray, TokenStates]:
        return self.encode_query(text), self.encoder.question_tokens(text)

    def pair_states(self, question: str, passages: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """The reader's input as the bot computes it (the ONNX encoder's first layers, a quarter of
        the time sentence-transformers takes through all twelve)."""
        if self._answering_encoder is None:
            from embeddings.config import IndexSettings
            from embeddings.encoder import query_encoder

            self._answering_encoder = query_encoder(IndexSettings.from_env())
        return self._answering_encoder.pair_states(question, passages, max_tokens)

    def __getattr__(self, name):
        return getattr(self.encoder, name)
