"""Admins add and remove articles from the chat: end to end against the fake Bot API, which
serves the file downloads too."""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import replace

import pytest

from bot.answering import Answerer
from bot.config import AnswerSettings
from bot.telegram_bot import ONLY_ADMINS_ADD, build_application
from bot.uploads import CorpusFolder, UploadRejected, safe_name
from embeddings.build import build_index
from embeddings.index_store import load_index
from tests.conftest import CORPUS
from tests.test_telegram import ADMIN, TOKEN, RunningBot, last_text, settings_for  # noqa: F401
from tests.fake_bot_api import FakeBotApi

ARTICLE = "# 盘锦新图书馆开馆\n\n盘锦市图书馆新馆于7月1日开馆，馆内藏书一百二十万册，设有少儿阅览区。\n"


@pytest.fixture()
def api():
    server = FakeBotApi(TOKEN).start()
    yield server
    server.stop()


@pytest.fixture()
def newsroom(api, encoder, base_settings, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = replace(base_settings, corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, progress=False, encoder=encoder)
    answerer = Answerer(load_index(settings.index_dir), encoder, AnswerSettings())
    folder = CorpusFolder(settings, encoder=encoder, max_bytes=1024 * 1024)
    with RunningBot(build_application(answerer, settings_for(api, max_upload_bytes=1024 * 1024), folder)):
        yield corpus, answerer


def replies(api, chat: int, count: int) -> list[str]:
    api.wait_for(lambda: len(api.sent_to(chat)) >= count, timeout=120)
    return [m["text"] for m in api.sent_to(chat)]


def test_safe_names():
    assert safe_name("../../etc/evil.md") == "evil.md"
    assert safe_name("..\\..\\报道 2019.txt") == "报道_2019.txt"
    assert safe_name(".hidden.md") == "hidden.md"
    for bad in ("noextension", "run.exe", ".md", ""):
        with pytest.raises(UploadRejected):
            safe_name(bad)


def test_admin_adds_a_document_and_the_next_question_quotes_it(api, newsroom):
    corpus, answerer = newsroom
    api.push_message(ADMIN, "盘锦市图书馆新馆藏书多少册?")
    assert "一百二十万册" not in last_text(api, ADMIN)
    api.push_document(ADMIN, "../library.md", ARTICLE.encode("utf-8"))
    texts = replies(api, ADMIN, 3)
    assert texts[1].startswith("Received ../library.md")
    assert texts[2].startswith("Added library.md (a new file): 1 articles, 1 passages. The index now holds 47 passages.")
    assert (corpus / "library.md").read_text(encoding="utf-8") == ARTICLE and api.downloads
    api.push_message(ADMIN, "盘锦市图书馆新馆藏书多少册?")
    assert "一百二十万册" in replies(api, ADMIN, 4)[3]
    api.push_document(ADMIN, "library.md", ARTICLE.replace("一百二十万", "一百三十万").encode("utf-8"))
    assert "(a new version of that file)" in replies(api, ADMIN, 6)[5]
    api.push_message(ADMIN, "/sources")
    assert "library.md" in replies(api, ADMIN, 7)[6]
    api.push_message(ADMIN, "/remove library.md")
    assert replies(api, ADMIN, 8)[7] == "Removed library.md. The index now holds 46 passages."
    assert not (corpus / "library.md").exists() and answerer.index.manifest.passages == 46


def test_bad_files_never_touch_the_corpus_or_the_index(api, newsroom):
    corpus, answerer = newsroom
    before = sorted(p.name for p in corpus.iterdir())
    serving = answerer.index.path
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (300 * 1024 * 1024))
    cases = [
        ("report.pdf", "这不是PDF。".encode("utf-8"), "named .pdf but its content is not a PDF file"),
        ("notes.md", b"\x00\x01\x02\x03binary", "the file is binary, not text"),
        ("setup.exe", b"MZ\x90\x00", "not a format the corpus reads"),
        ("bomb.docx", bomb.getvalue(), "refused as a likely zip bomb"),
        ("big.txt", "很长的文字。".encode("utf-8") * 100_000, "over the 1 MB limit (TELEGRAM_MAX_UPLOAD_MB)"),
    ]
    for number, (name, content, reason) in enumerate(cases):
        api.push_document(ADMIN, name, content)
        last = replies(api, ADMIN, 2 * number + 2)[-1] if name != "big.txt" else replies(api, ADMIN, 2 * number + 1)[-1]
        assert reason in last, (name, last)
    assert sorted(p.name for p in corpus.iterdir()) == before and answerer.index.path == serving


def test_non_admins_get_one_polite_sentence_and_nothing_is_stored(api, newsroom):
    corpus, _ = newsroom
    api.push_document(77, "library.md", ARTICLE.encode("utf-8"), user_id=77)
    assert last_text(api, 77) == ONLY_ADMINS_ADD
    api.push_message(77, "/remove panjin-news-2019-06.md", user_id=77)
    assert "Only admins" in last_text(api, 77, count=2)
    assert not (corpus / "library.md").exists() and not api.downloads


def test_questions_are_answered_from_the_old_index_while_a_build_runs(api, encoder, base_settings, tmp_path):
    import threading

    class SlowEncoder:
        """The real encoder, made slow, so that the build is still running when a question comes."""

        def __init__(self, inner):
            self.inner, self.dimension, self.started = inner, inner.dimension, threading.Event()

        def encode_passages(self, texts, progress=False):
            self.started.set()
            threading.Event().wait(3.0)
            return self.inner.encode_passages(texts)

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = replace(base_settings, corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, progress=False, encoder=encoder)
    answerer = Answerer(load_index(settings.index_dir), encoder, AnswerSettings())
    slow = SlowEncoder(encoder)
    with RunningBot(build_application(answerer, settings_for(api), CorpusFolder(settings, encoder=slow))):
        api.push_document(ADMIN, "library.md", ARTICLE.encode("utf-8"))
        assert slow.started.wait(30)
        api.push_message(ADMIN, "得胜村的村歌叫什么?")
        texts = replies(api, ADMIN, 3)
        assert "放飞梦想" in texts[1] and texts[2].startswith("Added library.md")  # answered before the build ended


def test_documents_shared_in_a_group_are_left_alone(api, newsroom):
    corpus, _ = newsroom
    api.push_document(-300, "minutes.md", ARTICLE.encode("utf-8"), user_id=ADMIN, chat_type="group")
    api.push_message(-300, "/ask 得胜村的村歌叫什么?", user_id=ADMIN, chat_type="group")
    assert "放飞梦想" in last_text(api, -300)
    assert len(api.sent_to(-300)) == 1 and not api.downloads and not (corpus / "minutes.md").exists()
