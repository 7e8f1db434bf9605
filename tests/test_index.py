"""The index on disk: incremental rebuilds, atomic swaps, clear errors for bad indexes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest

from embeddings import index_store
from embeddings.build import build_index
from embeddings.config import PROJECT_ROOT
from embeddings.index_store import IndexModelMismatch, IndexUnavailable, current_build, load_index
from tests.conftest import CORPUS


@pytest.fixture()
def small(tmp_path, base_settings):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    return replace(base_settings, corpus_dir=corpus, index_dir=tmp_path / "index")


def test_build_then_nothing_changed_then_edit_and_remove(small, encoder):
    first = build_index(small, progress=False, encoder=encoder)
    assert (first.files, first.articles, first.passages, first.added) == (1, 8, 46, 46)
    index = load_index(small.index_dir, expected_model=small.model)
    assert index.dense.ntotal == 46 and index.manifest.model == small.model

    again = build_index(small, progress=False)
    assert again.up_to_date and again.encoded == 0

    page = small.corpus_dir / "panjin-news-2019-06.md"
    page.write_text(page.read_text(encoding="utf-8").replace("3410个", "3411个"), encoding="utf-8")
    (small.corpus_dir / "extra.txt").write_text("补充报道\n\n盘锦新建了一座图书馆。\n", encoding="utf-8")
    edited = build_index(small, progress=False, encoder=encoder)
    assert (edited.changed, edited.added, edited.removed) == (1, 1, 0)
    assert edited.encoded == 2  # the two new texts (each passage is its only sentence), nothing else

    os.remove(small.corpus_dir / "extra.txt")
    removed = build_index(small, progress=False)
    assert removed.removed == 1 and removed.encoded == 0
    index = load_index(small.index_dir)
    assert all(p.source != "extra.txt" for p in index.passages) and index.dense.ntotal == 46
    assert len(list((small.index_dir / "builds").iterdir())) == 1


def test_changed_model_or_prompts_reencode_everything_and_say_so(small, encoder):
    build_index(small, progress=False, encoder=encoder)
    changed = replace(small, passage_prompt="passage:  ")
    report = build_index(changed, progress=False, encoder=encoder)
    assert "changed" in report.full_reason and report.encoded == 143
    assert load_index(small.index_dir).manifest.passage_prompt == "passage:  "


def test_failed_write_leaves_the_previous_index_whole(small, encoder, monkeypatch):
    build_index(small, progress=False, encoder=encoder)
    before = current_build(small.index_dir)
    (small.corpus_dir / "extra.txt").write_text("补充\n\n新的段落。\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(index_store, "_sync_folder", crash)
    with pytest.raises(OSError):
        build_index(small, progress=False, encoder=encoder)
    assert current_build(small.index_dir) == before
    assert load_index(small.index_dir).dense.ntotal == 46


def test_killed_build_leaves_the_previous_index_usable(small, encoder):
    build_index(small, progress=False, encoder=encoder)
    before = current_build(small.index_dir)
    for n in range(40):
        (small.corpus_dir / f"more-{n}.txt").write_text(f"文章{n}\n\n" + "盘锦的新闻段落。" * 30 + f"{n}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "CORPUS_DIR": str(small.corpus_dir),
           "INDEX_DIR": str(small.index_dir), "MODEL_CACHE_DIR": str(small.cache_dir)}
    process = subprocess.Popen([sys.executable, "-m", "embeddings.build"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=small.corpus_dir.parent)
    deadline = time.monotonic() + 120
    seen = b""
    while b"Embedding passages" not in seen and time.monotonic() < deadline:
        seen += process.stdout.read1(256)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert current_build(small.index_dir) == before
    assert load_index(small.index_dir).dense.ntotal == 46
    finished = build_index(small, progress=False, encoder=encoder)
    assert finished.added == 40 and not list((small.index_dir / "builds").glob("*.partial"))


def test_missing_corrupt_and_foreign_model_indexes_say_what_to_do(small, encoder, tmp_path):
    with pytest.raises(IndexUnavailable, match="python -m embeddings.build"):
        load_index(tmp_path / "nowhere")
    build_index(small, progress=False, encoder=encoder)
    with pytest.raises(IndexModelMismatch, match="EMBEDDING_MODEL"):
        load_index(small.index_dir, expected_model="some/other-model")
    build = current_build(small.index_dir)
    vectors = build / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexUnavailable, match="damaged.*python -m embeddings.build"):
        load_index(small.index_dir)
    (build / "manifest.json").unlink()
    with pytest.raises(IndexUnavailable, match="manifest"):
        load_index(small.index_dir)


def test_cli_reports_a_missing_corpus_clearly(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "embeddings.build", "--corpus", str(tmp_path / "none"),
                             "--index", str(tmp_path / "index")], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "CORPUS_DIR" in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bad.md").write_bytes(b"\x00\x01")
    result = subprocess.run([sys.executable, "-m", "embeddings.build", "--corpus", str(tmp_path / "empty"),
                             "--index", str(tmp_path / "index")], env=env, capture_output=True, text=True)
    assert result.returncode == 2 and "bad.md" in result.stderr and "no readable articles" in result.stderr


def test_a_second_build_waits_for_the_first_or_says_one_is_running(small, encoder, caplog):
    import threading

    from embeddings.build_lock import BuildRunning, build_lock

    holding, release = threading.Event(), threading.Event()

    def other_build() -> None:
        with build_lock(small.index_dir):
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=other_build)
    thread.start()
    holding.wait(30)
    with pytest.raises(BuildRunning, match=rf"another build of {small.index_dir} is running \(pid {os.getpid()}"):
        build_index(small, progress=False, encoder=encoder, wait=False)
    assert current_build(small.index_dir) is None  # nothing was touched

    threading.Timer(1.0, release.set).start()
    with caplog.at_level("INFO"):
        report = build_index(small, progress=False, encoder=encoder)  # waits, then builds
    thread.join()
    assert "waiting for it to finish" in caplog.text and report.passages == 46
    assert load_index(small.index_dir).dense.ntotal == 46


def test_large_corpora_get_an_approximate_index_and_passages_read_on_demand(small, encoder, monkeypatch):
    from embeddings.passage_store import PassageStore

    monkeypatch.setattr(index_store, "ANN_MIN_PASSAGES", 10)  # as if the page were an archive
    build_index(small, progress=False, encoder=encoder)
    index = load_index(small.index_dir)
    assert index.manifest.dense_index.startswith("IVF") and index.manifest.dense_index.endswith(",SQ8")
    assert isinstance(index.passages, PassageStore) and isinstance(index.vectors, np.memmap)
    streamed = list(index.passages)
    assert [index.passages[i] for i in range(len(streamed))] == streamed
    first = streamed[0]
    assert index.by_id.get(first.id) == 0 and index.by_id.get("0" * 16) is None
    assert index.by_article.rows(first.article_id) == [i for i, p in enumerate(streamed) if p.article_id == first.article_id]

    from bot.answering import Answerer
    from bot.config import AnswerSettings

    answer = Answerer(index, encoder, AnswerSettings()).answer("得胜村的村歌叫什么?")
    assert "得胜村" in answer.hits[0].passage


def test_console_takes_up_a_new_build_before_the_next_question(small, encoder):
    from bot.answering import Answerer
    from bot.config import AnswerSettings
    from bot.console import ConsoleSession

    build_index(small, progress=False, encoder=encoder)
    session = ConsoleSession(Answerer(load_index(small.index_dir), encoder, AnswerSettings()), colour=False)
    assert not session.handle("得胜村的村歌叫什么?").startswith("(索引已更新")
    (small.corpus_dir / "extra.txt").write_text("补充报道\n\n盘锦新建了一座图书馆。\n", encoding="utf-8")
    build_index(small, progress=False, encoder=encoder)
    assert session.handle("得胜村的村歌叫什么?").startswith("(索引已更新 / index updated: 47 passages)")


@pytest.mark.parametrize("name, value", [("INDEX_BACKEND", "bogus"), ("EMBEDDING_BATCH_SIZE", "x"),
                                         ("MILVUS_COLLECTION", "news-qa")])
def test_a_bad_setting_is_named_by_the_build_command(name, value):
    result = subprocess.run([sys.executable, "-m", "embeddings.build", "--quiet"], capture_output=True, text=True,
                            timeout=120, cwd=PROJECT_ROOT, env={**os.environ, name: value})
    assert result.returncode == 2 and name in result.stderr and "Traceback" not in result.stderr
