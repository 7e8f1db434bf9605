"""Shared fixtures: the real encoder and a real index of the shipped corpus, built once."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from embeddings.config import PROJECT_ROOT, IndexSettings

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
CORPUS = PROJECT_ROOT / "corpus"
QUESTIONS = Path(__file__).parent / "data" / "panjin_questions.jsonl"


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory) -> IndexSettings:
    settings = IndexSettings.from_env()
    return replace(settings, corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def encoder(base_settings):
    from embeddings.encoder import Encoder

    return Encoder(base_settings)


@pytest.fixture(scope="session")
def shipped_index(base_settings, encoder) -> Path:
    from embeddings.build import build_index

    build_index(base_settings, progress=False, encoder=encoder)
    return base_settings.index_dir


@pytest.fixture(scope="session")
def answerer(shipped_index, encoder):
    from bot.answering import Answerer
    from bot.config import AnswerSettings
    from embeddings.index_store import load_index

    return Answerer(load_index(shipped_index), encoder, AnswerSettings())
