"""The encoder without torch: the ONNX export run by ONNX Runtime.

It has the interface of ``encoder.Encoder`` (``encode_query``, ``encode_queries``,
``encode_passages``, ``question_tokens``, ``passage_tokens``, ``dimension``) and gives the same
vectors (float32: to 1e-5), so the bot answers with it while builds keep using
sentence-transformers. Starting it takes a fraction of a second instead of the ten that
importing torch and sentence-transformers takes: the weights are
memory-mapped, and questions are tokenised by ``query_tokenizer`` (the full ``tokenizers``
tokenizer, a second to load, only when passages are encoded).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .config import IndexSettings
from .encoder import TokenStates, pad_batch, pair_ids, token_states
from .onnx_model import (
    ALIGNMENT_FILE, ALIGNMENT_OUTPUT, FLOAT32_FILE, INT8_FILE, REST_FILE, OnnxUnavailable, is_prepared, onnx_folder,
    pooling_of,
)
from .query_tokenizer import open_query_tokenizer

log = logging.getLogger(__name__)
ENGINES = ("onnx", "onnx-int8")
EXCERPT_STATES_KEPT = 512  # excerpts whose token states are kept (~50 MB): a popular passage's excerpt comes back


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get("EMBEDDING_THREADS") or 0)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own types for bad files
        raise OnnxUnavailable(
            f"{path} is unreadable ({str(error)[:200]}): delete {path.parent} and run `python -m embeddings.prepare`"
        ) from error


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The model's pooling (sentence-transformers' mean over the real tokens)."""
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


class OnnxEncoder:
    def __init__(self, settings: IndexSettings, model_folder: Path, engine: str = "onnx"):
        folder = onnx_folder(settings, model_folder)
        if not is_prepared(folder):
            raise OnnxUnavailable(f"no ONNX export in {folder}: run `make setup` (or python -m embeddings.prepare)")
        pooling_of(model_folder)
        config = json.loads((model_folder / "sentence_bert_config.json").read_text())
        self.max_tokens = int(config.get("max_seq_length") or 512)
        self.model_folder = model_folder
        self.query_tokenizer = open_query_tokenizer(model_folder, folder, self.max_tokens)
        self.session = _session(folder / (INT8_FILE if engine == "onnx-int8" else FLOAT32_FILE))
        # the first layers alone, for the token states the confidence aligns (float32 always);
        # in float32 a question goes through them and then the rest, one pass for both
        self.first_layers = _session(folder / ALIGNMENT_FILE)
        self.last_layers = _session(folder / REST_FILE) if engine == "onnx" else None
        self._excerpt_states: OrderedDict[str, TokenStates] = OrderedDict()
        self.model_id = settings.model
        self.engine = engine
        self.query_prompt = settings.query_prompt
        self.passage_prompt = settings.passage_prompt
        self.batch_size = max(1, settings.batch_size)
        self.dimension = int(self._run([[0, 2]])[0].shape[-1])
        self._lock = threading.Lock()

    @functools.cached_property
    def tokenizer(self):
        """``tokenizers`` with the full vocabulary: for passages, and questions holding a special
        token (loaded on first need: a second that a one-shot question does not pay)."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_folder / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.max_tokens)
        return tokenizer

    def token_ids(self, texts: list[str], short: bool) -> list[list[int]]:
        """Questions (``short``) through the fast question tokenizer when there is one."""
        fast = self.query_tokenizer
        if short and fast is not None and all(fast.handles(text) for text in texts):
            return [fast.ids(text) for text in texts]
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        ids, mask = pad_batch(batch)
        return _mean_pooled(self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0], mask)

    def _encode(self, texts: list[str], prompt: str, short: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        ids = self.token_ids([prompt + text for text in texts], short)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))  # little padding
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                vectors[rows] = self._run([ids[i] for i in rows])
        return _unit_rows(vectors)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt)

    def _pieces(self, text: str) -> tuple[list[int], list[str | None]]:
        """Token ids and piece texts (``None`` for special tokens)."""
        fast = self.query_tokenizer
        if fast is not None and fast.handles(text):
            content = fast.pieces_of(text)
            return (fast.before + [i for i, _ in content] + fast.after,
                    [None] * len(fast.before) + [piece for _, piece in content] + [None] * len(fast.after))
        encoding = self.tokenizer.encode(text)
        unknown = self.tokenizer.token_to_id("<unk>")
        special = set(self.tokenizer.get_added_tokens_decoder()) - {unknown}  # <s>, </s>, <pad>, <mask>
        return encoding.ids, [
            None if i in special else text[a:b] if i == unknown else piece  # an unknown token: its text
            for i, piece, (a, b) in zip(encoding.ids, encoding.tokens, encoding.offsets)
        ]

    def _token_states(self, text: str, prompt: str, rest: bool = False) -> tuple[TokenStates, np.ndarray | None]:
        """The text's token states; with ``rest``, also its vector, from the rest of the layers."""
        ids, pieces = self._pieces(prompt + text)
        inputs = {"input_ids": np.array([ids], dtype=np.int64), "attention_mask": np.ones((1, len(ids)), dtype=np.int64)}
        vector = None
        with self._lock:
            hidden = self.first_layers.run(None, inputs)[0]
            if rest:
                last = self.last_layers.run(None, {**inputs, ALIGNMENT_OUTPUT: hidden})[0]
                vector = _unit_rows(_mean_pooled(last, inputs["attention_mask"]).astype(np.float32))[0]
        return token_states(pieces, hidden[0], self._prompt_length(prompt)), vector

    @functools.lru_cache(maxsize=4)  # noqa: B019 - two prompts, one encoder per process
    def _prompt_length(self, prompt: str) -> int:
        """How many tokens the prompt ("query: ") puts before a text (a word of its own)."""
        return sum(piece is not None for piece in self._pieces(prompt.strip())[1]) if prompt.strip() else 0

    def question_tokens(self, text: str) -> TokenStates:
        return self._token_states(text, self.query_prompt)[0]

    def encode_question(self, text: str) -> tuple[np.ndarray, TokenStates]:
        """The question's vector and its token states. In float32 from one pass through the two
        halves of the model (the same vector to 1e-6); in int8 the states take a float32 pass
        of their own."""
        if self.last_layers is None:
            return self.encode_query(text), self.question_tokens(text)
        states, vector = self._token_states(text, self.query_prompt, rest=True)
        return vector, states

    def passage_tokens(self, text: str) -> TokenStates:
        """An excerpt's token states, kept for the next question that is shown the same excerpt."""
        with self._lock:
            kept = self._excerpt_states.get(text)
            if kept is not None:
                self._excerpt_states.move_to_end(text)
                return kept
        states = self._token_states(text, self.passage_prompt)[0]
        with self._lock:
            self._excerpt_states[text] = states
            if len(self._excerpt_states) > EXCERPT_STATES_KEPT:
                self._excerpt_states.popitem(last=False)
        return states

    def pair_states(self, question: str, passages: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """Each (question, passage) pair read as one text: the first layers' states (float32) and
        the attention mask (``bot.reader`` runs the layers it fitted above them)."""
        [first] = self.token_ids([self.query_prompt + question], short=True)
        seconds = self.token_ids([self.passage_prompt + p for p in passages], short=False)
        ids, mask = pad_batch([pair_ids(first, second, max_tokens) for second in seconds])
        with self._lock:
            return self.first_layers.run(None, {"input_ids": ids, "attention_mask": mask})[0], mask

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], self.query_prompt, short=True)[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, short=True)
