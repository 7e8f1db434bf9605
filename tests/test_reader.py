"""The reader (bot/reader.py): the pair it reads, its layers against the encoder's, its files, and
what it says about sentences that do and do not answer, with the real encoder and weights."""

from __future__ import annotations

import json
import logging
import shutil
import sys

import numpy as np
import pytest

from bot.linear_model import ModelFileError
from bot.reader import FROZEN_LAYERS, MODEL_FILE, WEIGHTS_FILE, Reader, article_group, graph_bytes, packed, unpacked
from embeddings.config import PROJECT_ROOT
from embeddings.encoder import pair_ids, prepare_model, query_encoder
from tests.conftest import QUESTIONS

QUESTION = "辽河禁渔期是什么时候？"
ANSWERS = "辽河流域禁渔期为每年5月16日至7月31日。"
LONG = "盘锦市大洼区的红海滩由碱蓬草染红，每年秋季吸引大批游客前来观赏。" * 12


@pytest.fixture(scope="module")
def onnx_encoder(base_settings):
    return query_encoder(base_settings)


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader.load()


def test_the_pair_is_laid_out_and_cut_as_transformers_does(base_settings):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(prepare_model(base_settings))
    for second, limit in ((ANSWERS, 160), (LONG, 160), (LONG, 40)):
        expected = tokenizer(f"query: {QUESTION}", f"passage: {second}", truncation="only_second", max_length=limit)
        own = pair_ids(tokenizer(f"query: {QUESTION}")["input_ids"], tokenizer(f"passage: {second}")["input_ids"], limit)
        assert own == expected["input_ids"] and len(own) <= limit


def test_both_encoders_give_the_same_pair_states(encoder, onnx_encoder):
    torch_states, torch_mask = encoder.pair_states(QUESTION, [ANSWERS, LONG], 160)
    onnx_states, onnx_mask = onnx_encoder.pair_states(QUESTION, [ANSWERS, LONG], 160)
    assert (torch_mask == onnx_mask).all() and torch_mask.sum(axis=1)[1] == 160
    real = torch_mask.astype(bool)
    assert np.abs(torch_states[real] - onnx_states[real]).max() < 1e-3


def test_the_fitted_layers_run_as_the_encoders_own_upper_layers_would(base_settings, onnx_encoder):
    """The graph built from weights, given the encoder's own upper layers, is the encoder."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = prepare_model(base_settings)
    model, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    state = {f"{k}.{i}.{name}": value.numpy().astype(np.float16)
             for k in (0, 1) for i, layer in enumerate(model.encoder.layer[FROZEN_LAYERS:])
             for name, value in layer.state_dict().items()}
    head = np.random.RandomState(0).randn(2, model.config.hidden_size).astype(np.float32)
    for k in (0, 1):
        state[f"{k}.head.weight"], state[f"{k}.head.bias"] = head[k], np.array([k], dtype=np.float32)
    excerpts = [ANSWERS, LONG]
    got = Reader.from_weights(state, 2, 160, {}, int8=False).logits(*onnx_encoder.pair_states(QUESTION, excerpts, 160))
    encoded = tokenizer([f"query: {QUESTION}"] * 2, [f"passage: {e}" for e in excerpts], truncation="only_second",
                        max_length=160, padding=True, return_tensors="pt")
    with torch.inference_mode():
        last = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"][..., None].float()
    pooled = ((last * mask).sum(1) / mask.sum(1)).numpy()
    expected = pooled @ head.T + np.array([0.0, 1.0])
    assert np.abs(got - expected).max() < 0.05  # float16 weights


def test_the_reader_prefers_the_sentence_that_answers_over_its_siblings(answerer, reader, onnx_encoder):
    """On the shipped page's questions, the sentence holding the gold reads higher than the other
    sentences of its own passage (the siblings that name the topic but not the fact)."""
    from embeddings.text import normalise, sentence_spans

    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    ahead, compared = 0, 0
    for case in cases[:40]:
        answer = answerer.answer(case["q"])
        if answer.not_found or not answer.hits:
            continue
        passage = answer.hits[0].passage
        sentences = [passage[a:b] for a, b in sentence_spans(passage) if b - a >= 8]
        holding = [s for s in sentences if any(normalise(g) in normalise(s) for g in case["a"])]
        others = [s for s in sentences if s not in holding]
        if not holding or not others:
            continue
        readings = [r["reader"] for r in reader.read(onnx_encoder, case["q"], holding[:1] + others)]
        compared += 1
        ahead += readings[0] > max(readings[1:])
    assert compared >= 10 and ahead / compared >= 0.7, (ahead, compared)


def test_the_int8_graph_reads_as_the_float_one(answerer, reader, onnx_encoder):
    """The shipped graph's int8 matrix products move the shipped weights' logits little, on the
    excerpts the bot shows for the page's questions (hits of several kinds)."""
    exact = Reader.from_weights(unpacked(WEIGHTS_FILE), 2, reader.max_tokens, {}, int8=False)
    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()][:20]
    quantised, full = [], []
    for case in cases:
        excerpts = [hit.excerpt for hit in answerer.answer(case["q"], top_k=3).hits]
        if excerpts:
            states = onnx_encoder.pair_states(case["q"], excerpts, reader.max_tokens)
            quantised.append(reader.logits(*states).ravel())
            full.append(exact.logits(*states).ravel())
    quantised, full = np.concatenate(quantised), np.concatenate(full)
    assert len(full) >= 30 and full.std() > 1.0
    assert np.abs(quantised - full).mean() < 0.25 and np.abs(quantised - full).max() < 1.5
    assert np.corrcoef(quantised, full)[0, 1] > 0.995


def test_every_answer_is_read_and_the_reading_is_a_confidence_feature(answerer):
    values = answerer.answer(QUESTION).evidence.values
    assert {"reader", "reader_0", "reader_1"} <= set(values)
    assert values["reader"] == pytest.approx((values["reader_0"] + values["reader_1"]) / 2)
    assert "reader" in answerer.confidence.features


def test_training_rows_get_the_logit_of_the_model_that_never_read_their_article(reader):
    values = {"reader": 1.0, "reader_0": 3.0, "reader_1": -1.0, "dense": 0.5}
    read_by_1 = next(group for group, fold in reader.fold_of_article.items() if fold == 0)
    assert reader.honest(values, read_by_1) == {"reader": 3.0, "dense": 0.5}  # model 0 never read it
    assert reader.honest(values, article_group("cmrc2018_trial", "an article neither read")) == {
        "reader": 1.0, "dense": 0.5}
    assert article_group("xquad_dev_en", "Kenya") == article_group("xquad_dev_mixed", "Kenya")


def test_keeping_the_matrices_in_int8_changes_nothing_the_int8_graph_computes():
    """The file keeps each matrix on the grid the graph's int8 products use (one scale per output
    row): the graph built from it is the graph the float weights give, byte for byte."""
    import io

    shipped = unpacked(WEIGHTS_FILE)
    one_layer = {name: value for name, value in shipped.items() if name.split(".")[1] in ("0", "head")}
    as_float16 = {name: value.astype(np.float16) if name.split(".")[1] == "0" else value
                  for name, value in one_layer.items()}
    stored = packed(as_float16)
    assert any(value.dtype == np.int8 for value in stored.values())
    kept = io.BytesIO()
    np.savez(kept, **stored)
    kept.seek(0)
    assert graph_bytes(unpacked(kept), 2) == graph_bytes(as_float16, 2)


def test_the_span_taught_in_training_is_the_gold_as_the_labels_find_it(base_settings):
    """``bench/train_reader.py --span-weight``: a pair that holds the answer is taught its answer's
    tokens, found as the labels find the gold (NFKC); a pair without it, its first token; an answer
    that cannot be placed (cut away, or not written there) teaches no span."""
    from transformers import AutoTokenizer

    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from cross_reader import Pair, answer_tokens, excerpt_tokens, gold_place

    assert gold_place(ANSWERS, ("不在这里", "５月１６日")) == (10, 15)  # full-width gold, half-width excerpt
    assert gold_place("面积3000㎡左右", ("3000m2",)) == (2, 7)  # one character of the excerpt, two of the gold
    assert gold_place(ANSWERS, ("8月",)) is None

    tokenizer = AutoTokenizer.from_pretrained(prepare_model(base_settings))
    pairs = [Pair(QUESTION, ANSWERS, 1, "a", ("5月16日",)), Pair(QUESTION, ANSWERS, 0, "a"),
             Pair(QUESTION, ANSWERS, 1, "a", ("8月",)), Pair(QUESTION, LONG + ANSWERS, 1, "a", ("5月16日",))]
    spans = answer_tokens(tokenizer, pairs)
    assert spans[1:].tolist() == [[0, 0], [-1, -1], [-1, -1]]
    ids = tokenizer(f"query: {QUESTION}", f"passage: {ANSWERS}", truncation="only_second", max_length=160)["input_ids"]
    first, last = spans[0]  # the fewest tokens that write the gold ("日至" is one token)
    assert "5月16日" in tokenizer.decode(ids[first:last + 1])
    assert "5月16日" not in tokenizer.decode(ids[first + 1:last + 1])
    assert "5月16日" not in tokenizer.decode(ids[first:last])
    excerpt = excerpt_tokens(tokenizer, pairs[:1])[0]  # where the span head's no-answer margin looks
    assert len(excerpt) == len(ids) and excerpt[first] and excerpt[last]
    assert tokenizer.decode(np.array(ids)[excerpt]).replace(" ", "") == ANSWERS.replace(" ", "")


def test_a_window_with_its_answer_cut_out_keeps_the_rest_and_never_the_gold():
    """``--answer-removed``'s made negative: the window that answered, every other word kept, the
    answer gone wherever a gold form is written; no pair when that cannot be done honestly."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from cross_reader import without_answer

    at = ANSWERS.index("5月16日")
    assert without_answer(ANSWERS, at, "5月16日", {"5月16日"}) == "辽河流域禁渔期为每年至7月31日。"
    twice = "禁渔期从5月16日开始，5月16日起禁止捕捞。"
    assert without_answer(twice, twice.index("5月16日"), "5月16日", {"5月16日"}) == "禁渔期从开始，起禁止捕捞。"
    assert without_answer(ANSWERS, at + 1, "5月16日", {"5月16日"}) is None  # not where it was said to be
    wide = "禁渔期５月１６日，即5月16日"
    assert without_answer(wide, wide.index("5月16日"), "5月16日", {"5月16日"}) is None  # still written, full width
    assert without_answer("5月16日至7月31日", 0, "5月16日", {"5月16日"}) is None  # the answer is most of it


def test_the_weights_are_small_enough_to_ship():
    assert WEIGHTS_FILE.stat().st_size < 50_000_000
    about = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert about["retrain"] == "python bench/train_reader.py" and about["frozen_layers"] == FROZEN_LAYERS


def test_missing_or_mismatched_reader_files_name_themselves(tmp_path):
    with pytest.raises(ModelFileError, match="reader.json.*train_reader"):
        Reader.load(tmp_path / "reader.json", WEIGHTS_FILE)
    shutil.copy(MODEL_FILE, tmp_path / "reader.json")
    (tmp_path / "reader.npz").write_bytes(WEIGHTS_FILE.read_bytes()[:1000])
    with pytest.raises(ModelFileError, match="reader.npz is not the file"):
        Reader.load(tmp_path / "reader.json", tmp_path / "reader.npz")



def test_the_graph_is_built_once_into_the_cache_and_rebuilt_when_damaged(tmp_path, onnx_encoder, caplog):
    with caplog.at_level(logging.INFO):
        first = Reader.load(cache_dir=tmp_path)
    # one line says what is built; the quantiser's own advice and per-tensor lines stay out of the log
    assert [r.name for r in caplog.records] == ["bot.reader"], [r.getMessage()[:80] for r in caplog.records]
    [graph] = tmp_path.glob("reader-*.onnx")
    expected = first.read(onnx_encoder, QUESTION, [ANSWERS])
    assert Reader.load(cache_dir=tmp_path).read(onnx_encoder, QUESTION, [ANSWERS]) == expected
    graph.write_bytes(b"not a graph")
    assert Reader.load(cache_dir=tmp_path).read(onnx_encoder, QUESTION, [ANSWERS]) == expected
    assert graph.stat().st_size > 1_000_000  # written again whole
