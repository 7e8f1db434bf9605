"""The Milvus backend on Milvus Lite: build, incremental update, delete, reopen, answer, and the
same answers as the FAISS backend on the shipped corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from bot.answering import Answerer
from bot.config import AnswerSettings
from embeddings import lexical
from embeddings.build import build_index
from embeddings.config import PROJECT_ROOT
from embeddings.index_backend import index_version, open_index
from embeddings.index_store import IndexModelMismatch, IndexUnavailable
from embeddings.milvus_index import (
    SENTENCES, TERMS, connect, disconnect, passage_id_of, passage_key, stored_token, weighted_query,
)
from tests.conftest import CORPUS, QUESTIONS


@pytest.fixture()
def lite(tmp_path, base_settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = replace(base_settings, corpus_dir=corpus, index_dir=tmp_path / "index", backend="milvus")
    yield settings
    disconnect(settings)


@pytest.fixture(scope="module")
def shipped_lite(tmp_path_factory, base_settings, encoder):
    settings = replace(base_settings, index_dir=tmp_path_factory.mktemp("milvus"), backend="milvus")
    report = build_index(settings, progress=False, encoder=encoder)
    assert (report.files, report.articles, report.passages, report.added, report.encoded) == (1, 8, 46, 46, 143)
    yield settings
    disconnect(settings)


def test_keys_tokens_and_weights_survive_milvus():
    assert passage_id_of(passage_key("ffffffffffffffff")) == "ffffffffffffffff"
    assert passage_id_of(passage_key("0123456789abcdef")) == "0123456789abcdef"
    # the standard analyzer splits at anything not a letter or digit: our tokens must not split
    for token in lexical.tokens("村集体收入实现30万元，人均1.95万元，增长70%，O'Neil's e-mail"):
        assert stored_token(token).isalnum(), token
    assert stored_token("1.95万") != stored_token("195万")
    assert weighted_query({"辽河": 1.0, "fishing": 0.5, "x": 0.0}).split().count("辽河") == 2 * \
        weighted_query({"fishing": 0.5}).split().count("fishing")


def test_same_answers_as_faiss_on_the_shipped_corpus(shipped_lite, answerer, encoder):
    milvus = Answerer(open_index(shipped_lite, expected_model=shipped_lite.model), encoder, AnswerSettings(),
                      index_settings=shipped_lite)
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    chinese = [q for q in questions if not q.isascii()]
    assert len(chinese) >= 40
    for question in questions:
        on_faiss, on_milvus = answerer.answer(question), milvus.answer(question)
        assert on_milvus.not_found == on_faiss.not_found, question
        assert [h.passage_id for h in on_milvus.hits] == [h.passage_id for h in on_faiss.hits], question
        assert [h.excerpt for h in on_milvus.hits] == [h.excerpt for h in on_faiss.hits], question
        if question in chinese:  # no weighted terms: the same BM25 scores, so the same confidence
            assert on_milvus.confidence == pytest.approx(on_faiss.confidence, abs=1e-4), question


def test_bm25_ranking_matches_bm25s(shipped_lite, answerer):
    milvus = open_index(shipped_lite)
    faiss_index = answerer.index
    for question in ("辽河禁渔期是什么时候", "村集体收入实现多少万元", "丹顶鹤 孵化"):
        terms = dict.fromkeys(lexical.tokens(question), 1.0)
        expected, _ = faiss_index.bm25_search(terms, 10)
        found, also = milvus.bm25_search(terms, 10, also=[passage_key(faiss_index.passages[0].id)])
        assert [faiss_index.passages[r].id for r, _ in expected] == [passage_id_of(k) for k, _ in found]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-4)
        assert also[passage_key(faiss_index.passages[0].id)] == pytest.approx(
            faiss_index.bm25_search(terms, 46, also=[0])[1][0], rel=1e-4)
    tokens = ["辽河", "禁渔", "1.95万", "没有这个词"]
    assert milvus.document_frequencies(tokens) == faiss_index.document_frequencies(tokens)


def test_build_update_delete_reopen_and_answer(lite, encoder):
    first = build_index(lite, progress=False, encoder=encoder)
    assert (first.added, first.encoded) == (46, 143) and "milvus.db" in str(first.index_path)
    again = build_index(lite, progress=False)  # nothing changed: the encoder is not even loaded
    assert again.up_to_date and again.encoded == 0

    page = lite.corpus_dir / "panjin-news-2019-06.md"
    page.write_text(page.read_text(encoding="utf-8").replace("3410个", "3411个"), encoding="utf-8")
    (lite.corpus_dir / "extra.txt").write_text("补充报道\n\n盘锦新建了一座图书馆，名叫鹤乡书院。\n", encoding="utf-8")
    edited = build_index(lite, progress=False, encoder=encoder)
    assert (edited.changed, edited.added, edited.removed, edited.encoded) == (1, 1, 0, 2)
    index = open_index(lite, expected_model=lite.model)
    assert index.passage_count == 47 and index.manifest.passages == 47
    assert index.document_frequencies(["书院"]) == {"书院": 1}
    answerer = Answerer(index, encoder, AnswerSettings(), index_settings=lite)
    answer = answerer.answer("盘锦新建的图书馆叫什么名字？")
    assert not answer.not_found and "鹤乡书院" in answer.hits[0].excerpt and answer.hits[0].source == "extra.txt"
    assert "3411个" in answerer.answer("盘锦市共有多少个基层党组织？").hits[0].excerpt

    (lite.corpus_dir / "extra.txt").unlink()
    page.write_text(page.read_text(encoding="utf-8").replace("首次实行禁渔期制度", "首次施行禁渔期制度"), encoding="utf-8")
    removed = build_index(lite, progress=False, encoder=encoder)
    # the edited paragraph's new text and its changed sentence; its other sentence's vector is reused
    assert (removed.removed, removed.changed, removed.encoded) == (1, 1, 2)
    assert answerer.reload_if_changed() is not None  # the bot takes up the update (a new build id)
    assert answerer.index.passage_count == 46 and answerer.reload_if_changed() is None
    assert answerer.index.document_frequencies(["书院"]) == {"书院": 0}
    client = connect(lite)
    leftover = client.query(lite.milvus_collection + SENTENCES, filter="", output_fields=["count(*)"])
    assert leftover[0]["count(*)"] == 108  # the removed passage's sentence vectors went with it
    assert "extra.txt" not in {p.source for p in answerer.index.iter_passages()}

    disconnect(lite)  # reopen from the file, as a restarted bot does
    reopened = Answerer(open_index(lite, expected_model=lite.model), encoder, AnswerSettings(), index_settings=lite)
    answer = reopened.answer("辽河禁渔期是什么时候？")
    assert not answer.not_found and "5月16日" in answer.hits[0].excerpt
    assert reopened.article(answer.hits[0].article_id)[0].ordinal <= answer.hits[0].paragraph
    assert reopened.passage(answer.hits[0].passage_id).text == answer.hits[0].passage


def test_changed_model_rebuilds_and_mismatch_is_refused(lite, encoder):
    build_index(lite, progress=False, encoder=encoder)
    report = build_index(replace(lite, passage_prompt="passage:  "), progress=False, encoder=encoder)
    assert "changed" in report.full_reason and report.encoded == 143
    assert open_index(lite).manifest.passage_prompt == "passage:  "
    with pytest.raises(IndexModelMismatch, match="EMBEDDING_MODEL"):
        open_index(lite, expected_model="another-model")


def test_missing_or_damaged_collection_says_how_to_build(lite, encoder):
    with pytest.raises(IndexUnavailable, match="INDEX_BACKEND=milvus python -m embeddings.build"):
        open_index(lite)
    assert index_version(lite) is None
    build_index(lite, progress=False, encoder=encoder)
    connect(lite).drop_collection(lite.milvus_collection + TERMS)
    with pytest.raises(IndexUnavailable, match="--full"):
        open_index(lite)
    report = build_index(lite, progress=False, encoder=encoder)
    assert "missing" in report.full_reason and open_index(lite).passage_count == 46


def test_a_second_process_on_a_lite_file_gets_a_clear_message(shipped_lite, tmp_path):
    lite = replace(shipped_lite, corpus_dir=CORPUS)
    open_index(lite)  # this process holds the file
    script = (
        "import sys\nfrom embeddings.build import main\n"
        f"sys.exit(main(['--corpus', {str(lite.corpus_dir)!r}, '--index', {str(lite.index_dir)!r}, '--quiet']))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=PROJECT_ROOT, env={**os.environ, "INDEX_BACKEND": "milvus"})
    assert result.returncode == 2
    assert "open in another process" in result.stderr and "MILVUS_URI" in result.stderr


def test_an_admins_upload_in_telegram_is_indexed_in_milvus_lite(lite, encoder):
    """The bot builds inside its own process, so Milvus Lite's one-process rule does not stand in
    the way of admins adding articles from the chat."""
    from bot.telegram_bot import build_application
    from bot.uploads import CorpusFolder
    from tests.fake_bot_api import FakeBotApi
    from tests.test_telegram import ADMIN, TOKEN, RunningBot, settings_for
    from tests.test_uploads import ARTICLE, replies

    build_index(lite, progress=False, encoder=encoder)
    answerer = Answerer(open_index(lite, expected_model=lite.model), encoder, AnswerSettings(), index_settings=lite)
    folder = CorpusFolder(lite, encoder=encoder, max_bytes=1024 * 1024)
    api = FakeBotApi(TOKEN).start()
    try:
        with RunningBot(build_application(answerer, settings_for(api, max_upload_bytes=1024 * 1024), folder)):
            api.push_document(ADMIN, "library.md", ARTICLE.encode("utf-8"))
            assert "The index now holds 47 passages." in replies(api, ADMIN, 2)[1]
            api.push_message(ADMIN, "盘锦市图书馆新馆藏书多少册?")
            assert "一百二十万册" in replies(api, ADMIN, 3)[2]
            api.push_message(ADMIN, "/remove library.md")
            assert replies(api, ADMIN, 4)[3] == "Removed library.md. The index now holds 46 passages."
    finally:
        api.stop()


def test_a_server_that_stops_answering_gets_a_message_not_a_crash(shipped_lite, encoder, monkeypatch):
    answerer = Answerer(open_index(shipped_lite), encoder, AnswerSettings(), index_settings=shipped_lite)
    assert not answerer.answer("辽河禁渔期是什么时候？").not_found

    def gone(*args, **kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(answerer.index.client.client, "search", gone)
    monkeypatch.setattr(answerer.index.client.client, "describe_collection", gone)
    assert answerer.reload_if_changed() is None  # the watch keeps the index it has
    answer = answerer.answer("盘锦市有多少个社区党组织？")
    assert answer.not_found and "cannot be searched right now" in answer.problem and not answer.hits
    monkeypatch.undo()
    assert not answerer.answer("盘锦市有多少个社区党组织？").not_found  # and it recovers

