"""A reader of the question and one excerpt together: does the excerpt hold the answer?

Word-overlap evidence cannot tell the sentence that answers from a sibling sentence of the same
article that names everything the question names but the fact it asks for; most confident wrong
quotations were of that kind (README, "Reading the confident wrong quotes"). The reader reads
"query: question" and "passage: excerpt" as one pair through the bundled encoder: its lower
layers as they are (the encoder's own split computes them, ``pair_states``), then upper layers
fitted to the question "does this excerpt hold the answer?" by ``bench/train_reader.py``. Its
logit is one feature of the confidence (``bot.confidence``), not a rule of its own.

Two fitted models ship, each having read one half of the fitting articles: the bot answers with
the mean of their logits (``reader``); the confidence's training gives each fitting row the logit
of the model that never read its article (``reader_0``, ``reader_1``, see ``honest``).
The fitted layers run in ONNX Runtime, as a graph built from the weights and quantised to int8
(``graph_bytes``): answering needs no torch.
They were fitted above the bundled encoder's layers; with another ``EMBEDDING_MODEL`` the bot
does not read (``reads_with``), and says so in its log.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import math
from pathlib import Path

import numpy as np

from embeddings.cache_files import keep_cache_file
from embeddings.config import DEFAULT_MODEL
from embeddings.encoder import ALIGNMENT_LAYER

from .linear_model import ModelFileError

MODEL_FILE = Path(__file__).parent / "models" / "reader.json"
WEIGHTS_FILE = Path(__file__).parent / "models" / "reader.npz"
FROZEN_LAYERS = ALIGNMENT_LAYER  # the encoder's lower layers, as they are (its ONNX split computes them)
RETRAIN = "python bench/train_reader.py"
log = logging.getLogger(__name__)
HEADS = 12
LAYER_NORM_EPS = 1e-12
OPSET = 17  # LayerNormalization


class ReaderGraph:
    """The fitted models as one ONNX graph, built from their weights (once, ``Reader.load``): ONNX
    Runtime runs the layers several times quicker than numpy would, and the repository keeps only
    the weights (``packed``; ``graph_bytes`` quantises the graph). Inputs: the pairs' states after the
    frozen layers and their attention mask; output: each model's logit (pairs × models)."""

    def __init__(self, state: dict[str, np.ndarray], models: int, width: int):
        from onnx import TensorProto, helper

        self.nodes, self.weights, self._count = [], [], 0
        self.helper = helper
        hidden = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["pairs", "tokens", width])
        mask = helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["pairs", "tokens"])
        logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["pairs", models])
        keep = self._op("Unsqueeze", "mask", self._constant(np.array([2], dtype=np.int64)))  # pairs × tokens × 1
        blocked = self._op("Mul", self._op("Sub", self._constant(np.float32(1.0)), "mask"), self._constant(np.float32(-1e4)))
        additive = self._op("Unsqueeze", blocked, self._constant(np.array([1, 2], dtype=np.int64)))
        count = self._op("ReduceSum", keep, self._constant(np.array([1], dtype=np.int64)), keepdims=0)  # pairs × 1
        outputs = []
        for k in range(models):
            layers = sorted({name.split(".")[1] for name in state if name.startswith(f"{k}.")} - {"head"}, key=int)
            h = "hidden"
            for i in layers:
                h = self._layer(h, additive, {name[len(f"{k}.{i}."):]: value for name, value in state.items()
                                                if name.startswith(f"{k}.{i}.")}, width)
            pooled = self._op("Div", self._op("ReduceSum", self._op("Mul", h, keep),
                                              self._constant(np.array([1], dtype=np.int64)), keepdims=0), count)
            head = state[f"{k}.head.weight"].astype(np.float32).reshape(width, 1)
            outputs.append(self._op("Add", self._op("MatMul", pooled, self._constant(head)),
                                    self._constant(state[f"{k}.head.bias"].astype(np.float32))))
        self.nodes.append(helper.make_node("Concat", outputs, ["logits"], axis=1))
        graph = helper.make_graph(self.nodes, "reader", [hidden, mask], [logits], self.weights)
        self.model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])

    def _constant(self, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = f"w{len(self.weights)}"
        self.weights.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def _op(self, kind: str, *inputs: str, **attributes) -> str:
        self._count += 1
        name = f"{kind.lower()}{self._count}"
        self.nodes.append(self.helper.make_node(kind, list(inputs), [name], **attributes))
        return name

    def _linear(self, x: str, state: dict[str, np.ndarray], name: str) -> str:
        # float32 (in, out), a plain constant: what ONNX Runtime's quantiser turns into int8
        weight = self._constant(np.ascontiguousarray(state[f"{name}.weight"].astype(np.float32).T))
        return self._op("Add", self._op("MatMul", x, weight), self._constant(state[f"{name}.bias"].astype(np.float32)))

    def _norm(self, x: str, state: dict[str, np.ndarray], name: str) -> str:
        return self._op("LayerNormalization", x, self._constant(state[f"{name}.weight"].astype(np.float32)),
                        self._constant(state[f"{name}.bias"].astype(np.float32)), axis=-1, epsilon=LAYER_NORM_EPS)

    def _layer(self, h: str, additive: str, state: dict[str, np.ndarray], width: int) -> str:
        """XLM-R's post-norm transformer layer (``transformers``' names for its weights)."""
        size = width // HEADS
        split = self._constant(np.array([0, 0, HEADS, size], dtype=np.int64))

        def heads(name: str, perm: list[int]) -> str:
            return self._op("Transpose", self._op("Reshape", self._linear(h, state, name), split), perm=perm)

        q = heads("attention.self.query", [0, 2, 1, 3])
        k = heads("attention.self.key", [0, 2, 3, 1])
        v = heads("attention.self.value", [0, 2, 1, 3])
        scores = self._op("Add", self._op("Mul", self._op("MatMul", q, k), self._constant(np.float32(1 / math.sqrt(size)))),
                          additive)
        context = self._op("MatMul", self._op("Softmax", scores, axis=-1), v)
        context = self._op("Reshape", self._op("Transpose", context, perm=[0, 2, 1, 3]),
                           self._constant(np.array([0, 0, width], dtype=np.int64)))
        h = self._norm(self._op("Add", self._linear(context, state, "attention.output.dense"), h), state,
                       "attention.output.LayerNorm")
        inner = self._linear(h, state, "intermediate.dense")
        erf = self._op("Erf", self._op("Mul", inner, self._constant(np.float32(1 / math.sqrt(2)))))
        gelu = self._op("Mul", self._op("Mul", inner, self._constant(np.float32(0.5))),
                        self._op("Add", erf, self._constant(np.float32(1.0))))
        return self._norm(self._op("Add", self._linear(gelu, state, "output.dense"), h), state, "output.LayerNorm")


class Reader:
    """The shipped reader: the fitted models, run by ONNX Runtime, and how they were trained."""

    def __init__(self, graph: bytes | Path, max_tokens: int, fold_of_article: dict[str, int]):
        """``graph``: the ONNX graph (``ReaderGraph``), serialised or as a file."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = str(graph) if isinstance(graph, Path) else graph
        self.session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.max_tokens = max_tokens
        self.fold_of_article = fold_of_article

    @classmethod
    def from_weights(cls, state: dict[str, np.ndarray], models: int, max_tokens: int,
                     fold_of_article: dict[str, int], int8: bool = True) -> "Reader":
        return cls(graph_bytes(state, models, int8), max_tokens, fold_of_article)

    @classmethod
    def load(cls, model_file: Path = MODEL_FILE, weights_file: Path = WEIGHTS_FILE,
             cache_dir: Path | None = None) -> "Reader":
        """The graph is built once into ``cache_dir`` (``MODEL_CACHE_DIR``): building it imports
        ``onnx``, most of a second that later starts skip."""
        try:
            about = json.loads(Path(model_file).read_text(encoding="utf-8"))
            raw = Path(weights_file).read_bytes()
            digest = hashlib.sha256(raw).hexdigest()
            if digest != about["weights_sha256"]:
                raise ValueError(f"{weights_file} is not the file {model_file} was written with")
            if about["frozen_layers"] != FROZEN_LAYERS:
                raise ValueError(f"fitted above layer {about['frozen_layers']}, the encoder splits at {FROZEN_LAYERS}")
            models, settings = int(about["models"]), (int(about["max_tokens"]), dict(about["fold_of_article"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise _unreadable(model_file, weights_file, error) from error
        if cache_dir is None:
            from embeddings.config import model_cache_dir

            cache_dir = model_cache_dir()
        graph = Path(cache_dir) / f"reader-{digest[:16]}-int8.onnx"
        try:
            if graph.is_file():
                return cls(graph, *settings)
        except Exception as problem:  # noqa: BLE001 - ONNX Runtime raises its own types for a bad file
            log.warning("rebuilding %s, which ONNX Runtime cannot read: %s", graph, str(problem)[:200])
        log.info("building the reader's graph in %s (once, a few seconds)", graph)
        try:  # the weights are parsed only to build the graph
            built = graph_bytes(unpacked(io.BytesIO(raw)), models)
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise _unreadable(model_file, weights_file, error) from error
        try:
            keep_cache_file(graph, lambda path: path.write_bytes(built), stale="reader-*.onnx")
        except OSError as problem:  # a read-only cache: built again at the next start
            log.warning("cannot keep the reader's graph in %s: %s", cache_dir, problem)
        return cls(built, *settings)

    def logits(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Each model's logit for each pair (pairs × models)."""
        return self.session.run(None, {"hidden": hidden.astype(np.float32), "mask": mask.astype(np.float32)})[0]

    @staticmethod
    def reads_with(encoder) -> bool:
        """Whether the fitted layers sit on this encoder's lower ones (the bundled model's)."""
        return getattr(encoder, "model_id", None) == DEFAULT_MODEL

    def read(self, encoder, question: str, excerpts: list[str]) -> list[dict[str, float]]:
        """Each excerpt's reading: ``reader`` (the models' mean logit) and each model's own
        (nothing with an encoder the reader was not fitted on: the feature is then absent)."""
        if not excerpts or not self.reads_with(encoder):
            return [{} for _ in excerpts]
        logits = self.logits(*encoder.pair_states(question, excerpts, self.max_tokens))
        return [{"reader": float(row.mean()), **{f"reader_{k}": float(v) for k, v in enumerate(row)}}
                for row in logits]

    def honest(self, values: dict[str, float], article_group: str) -> dict[str, float]:
        """For training the confidence: ``values`` with ``reader`` the logit of the model that never
        read this article (the mean for articles both read or neither read: the confidence is fitted on
        neither kind), the per-model logits dropped."""
        fold = self.fold_of_article.get(article_group)
        kept = {name: value for name, value in values.items() if not name.startswith("reader_")}
        if fold is not None and f"reader_{fold}" in values:
            kept["reader"] = values[f"reader_{fold}"]
        return kept


def packed(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fitted weights as the repository keeps them: each matrix in int8 with one scale per
    output row (``<name>.scale``), the rest float16. The graph's int8 products quantise each
    matrix per output channel to the same grid, so the shipped graph loses nothing by it, and
    the file is half of float16's size."""
    out = {}
    for name, value in state.items():
        if value.ndim == 2:
            matrix = value.astype(np.float32)
            scale = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127
            out[name] = np.round(matrix / scale[:, None]).astype(np.int8)
            out[f"{name}.scale"] = scale
        else:
            out[name] = value if value.dtype == np.float32 else value.astype(np.float16)
    return out


def unpacked(source) -> dict[str, np.ndarray]:
    """``packed``'s file (a path or a file object) as float32 weights (float16 files read as well)."""
    with np.load(source) as stored:
        state = {name: stored[name].astype(np.float32) for name in stored.files}
    for name in [name for name in state if name.endswith(".scale")]:
        scale = state.pop(name)
        state[name.removesuffix(".scale")] *= scale[:, None]
    return state


def graph_bytes(state: dict[str, np.ndarray], models: int, int8: bool = True) -> bytes:
    """The serialised graph; ``int8``: its weight products quantised as the encoder's ``onnx-int8``
    (``quantise_matrix_products``). On 2 cores that halves the fitted layers' time (three
    pairs: about 40 ms to 20 ms) and moves a logit by 0.06 on average (sd of the logits: 2.8)."""
    model = ReaderGraph(state, models, state["0.head.weight"].shape[-1]).model
    if not int8:
        return model.SerializeToString()
    import tempfile

    from embeddings.onnx_model import quantise_matrix_products

    with tempfile.TemporaryDirectory(prefix="reader-") as folder:
        output = Path(folder) / "reader-int8.onnx"
        quantise_matrix_products(model, output)
        return output.read_bytes()


def _unreadable(model_file: Path, weights_file: Path, error: Exception) -> ModelFileError:
    return ModelFileError(
        f"the reader's files {model_file} and {weights_file} are unreadable ({error}): restore them from "
        f"git or retrain them with `{RETRAIN}`"
    )


@functools.cache
def shipped_reader() -> Reader:
    """The repository's reader, loaded once per process (every ``Answerer`` shares it)."""
    return Reader.load()


def article_group(file: str, article: str) -> str:
    """The unit the reader's training folds split by: an article of a bench file, XQuAD's English
    and Chinese questions about one article (and their mixed wordings) being one."""
    return f"xquad|{article}" if file.startswith("xquad") else f"{file}|{article}"
