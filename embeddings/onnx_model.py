"""The encoder as ONNX files, made once from the sentence-transformers folder (needs torch).

Why: answering a question should not import torch. ``onnx_encoder`` runs these files with ONNX
Runtime and the model's own ``tokenizer.json``, which starts in a fraction of the time.
``model.onnx`` is the float32 transformer (vectors equal to the torch model's to 1e-5);
``model_qint8.onnx`` its dynamic int8 quantisation (the matrix products per channel: twice as
fast for a question, cosine ≥ 0.99 to the float32 vectors); ``model_first_layers.onnx`` the
float32 graph's first ``ALIGNMENT_LAYER`` layers, for the token states ``bot.alignment``
matches, and ``model_last_layers.onnx`` the rest, from those states to the last layer: a
question goes through the two in turn, so its token states cost no pass of their own (both read
``model.onnx``'s weights). The first two keep their weights beside the graph
(``*.onnx.data``): ONNX Runtime maps such a file instead of parsing it, which takes a float32
session from about 1.3 s to 0.2 s to open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .config import IndexSettings
from .encoder import ALIGNMENT_LAYER
from .query_tokenizer import prepare_query_tokenizer

if TYPE_CHECKING:
    import onnx

log = logging.getLogger(__name__)
FLOAT32_FILE, INT8_FILE = "model.onnx", "model_qint8.onnx"
ALIGNMENT_FILE = "model_first_layers.onnx"  # the first ALIGNMENT_LAYER layers, weights shared with model.onnx
REST_FILE = "model_last_layers.onnx"  # from the first layers' states to the last layer (same weights)
ALIGNMENT_OUTPUT = "alignment_states"
MARKER_FILE = "export.json"
EXPORT_VERSION = 5  # 2: weights in external data files; 3: int8 per channel, matrix products only; 4: first layers; 5: last layers


class OnnxUnavailable(RuntimeError):
    """The model cannot be run through ONNX here (not prepared, or not a mean-pooled BERT-like model)."""


def onnx_folder(settings: IndexSettings, model_folder: Path) -> Path:
    digest = hashlib.sha256(str(Path(model_folder).resolve()).encode()).hexdigest()[:10]
    return settings.cache_dir / "onnx" / f"{Path(model_folder).name}-{digest}"


def is_prepared(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    files = (FLOAT32_FILE, INT8_FILE, FLOAT32_FILE + ".data", INT8_FILE + ".data", ALIGNMENT_FILE, REST_FILE)
    return marker.get("version") == EXPORT_VERSION and all((folder / f).is_file() for f in files)


def pooling_of(model_folder: Path) -> dict:
    """The sentence-transformers modules after the transformer: mean pooling (+ normalise) only."""
    modules = json.loads((model_folder / "modules.json").read_text())
    pooling = {}
    for module in modules[1:]:
        kind = module.get("type", "")
        if kind.endswith("Pooling"):
            pooling = json.loads((model_folder / module["path"] / "config.json").read_text())
        elif not kind.endswith("Normalize"):
            raise OnnxUnavailable(f"{model_folder}: module {kind} has no ONNX path here")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise OnnxUnavailable(f"{model_folder}: only mean pooling runs through ONNX here")
    return pooling


def export(model_folder: Path, folder: Path) -> Path:
    """Write ``model.onnx`` and ``model_qint8.onnx`` for ``model_folder`` into ``folder``, atomically."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    pooling_of(model_folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    model = AutoModel.from_pretrained(model_folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_folder)

    class Transformer(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return out.last_hidden_state, out.hidden_states[ALIGNMENT_LAYER]

    sample = tokenizer(["query: 样例", "passage: a longer sample text"], padding=True, return_tensors="pt")
    outputs = ["last_hidden_state", ALIGNMENT_OUTPUT]
    torch.onnx.export(
        Transformer(model), (sample["input_ids"], sample["attention_mask"]), str(staging / FLOAT32_FILE),
        input_names=["input_ids", "attention_mask"], output_names=outputs,
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", *outputs)},
        opset_version=17, dynamo=False,
    )
    _drop_output(staging / FLOAT32_FILE, ALIGNMENT_OUTPUT)  # fetching it would slow every question
    quantise_matrix_products(staging / FLOAT32_FILE, staging / INT8_FILE)
    for file in (FLOAT32_FILE, INT8_FILE):
        _weights_beside(staging / file)
    _split(staging / FLOAT32_FILE, staging / ALIGNMENT_FILE, staging / REST_FILE, ALIGNMENT_OUTPUT)
    (staging / MARKER_FILE).write_text(json.dumps({
        "version": EXPORT_VERSION, "source": str(Path(model_folder).resolve()),
        "max_tokens": int(getattr(tokenizer, "model_max_length", 512) or 512),
    }))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    os.replace(staging, folder)
    return folder


def quantise_matrix_products(source: Path | onnx.ModelProto, target: Path) -> None:
    """``source`` (a file or an ``onnx.ModelProto``) with its weight products in int8 (dynamic
    quantisation), written to ``target``. The matrix products only, one scale per output channel:
    for the encoder, cosine to float32 ≥ 0.99 where the default (every op, one scale per tensor)
    gave 0.98, at the same speed (4–5 ms a question); ``bot.reader`` quantises its graph alike."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_quantiser_chatter)
    try:
        quantize_dynamic(source if not isinstance(source, Path) else str(source), str(target),
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], per_channel=True)
    finally:
        root.removeFilter(_quantiser_chatter)


def _quantiser_chatter(record: logging.LogRecord) -> bool:
    """Drops what the quantiser logs on the root logger below an error: its advice to pre-process
    the graph (a warning, at every run) and a line per tensor (at INFO), which a console or the
    Telegram bot's log would show when a graph is made at setup or at the first start."""
    return record.levelno >= logging.ERROR or "onnxruntime" not in record.pathname


def _drop_output(path: Path, name: str) -> None:
    import onnx

    model = onnx.load(str(path))
    kept = [output for output in model.graph.output if output.name != name]
    del model.graph.output[:]
    model.graph.output.extend(kept)
    onnx.save_model(model, str(path))


def _split(path: Path, first: Path, rest: Path, middle: str) -> None:
    """``path``'s graph cut at the inner tensor ``middle`` (the first layers' hidden states):
    ``first`` computes it from the inputs, ``rest`` the last hidden state from it. ONNX Runtime
    runs a whole graph even when only an inner output is fetched, so the cut needs graphs of its
    own; their weights stay in ``path``'s data file. ``rest`` also takes ``input_ids``: the
    attention mask's shape is taken from the embeddings."""
    import onnx
    from onnx.utils import Extractor

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    inputs = [i.name for i in model.graph.input]
    onnx.save_model(Extractor(model).extract_model(inputs, [middle]), str(first))
    onnx.save_model(Extractor(model).extract_model([*inputs, middle], [model.graph.output[0].name]), str(rest))


def _weights_beside(path: Path) -> None:
    """Move the weights of ``path`` into ``<name>.data`` next to it (the graph stays small)."""
    import onnx

    model = onnx.load(str(path))
    path.unlink()
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)


def prepare_onnx(settings: IndexSettings, model_folder: Path) -> Path:
    """The ONNX folder for the model, exported on first use (tens of seconds, once)."""
    folder = onnx_folder(settings, model_folder)
    if not is_prepared(folder):
        log.info("Exporting the encoder to ONNX in %s (once)", folder)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export(Path(model_folder), folder)
    prepare_query_tokenizer(Path(model_folder), folder)
    return folder
