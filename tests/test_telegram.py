"""The Telegram bot end to end: the real PTB application, polling a real HTTP fake Bot API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from bot.config import TelegramSettings
from bot.telegram_bot import build_application, protect_logs
from bot.telegram_render import split_message
from embeddings.config import PROJECT_ROOT
from tests.fake_bot_api import BOT_ID, BOT_USERNAME, FakeBotApi

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghijk"
ADMIN = 42


class RunningBot:
    """The application polling in its own thread and event loop, as in production."""

    def __init__(self, application):
        self.application = application
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with self.application:
            if self.application.post_init:  # what run_polling does after initialize()
                await self.application.post_init(self.application)
            await self.application.start()
            await self.application.updater.start_polling(poll_interval=0.0, timeout=1)
            self._ready.set()
            await self._stop.wait()
            await self.application.updater.stop()
            await self.application.stop()

    def __enter__(self) -> "RunningBot":
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "the bot did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture()
def api():
    server = FakeBotApi(TOKEN).start()
    yield server
    server.stop()


def settings_for(api: FakeBotApi, **overrides) -> TelegramSettings:
    values = dict(
        token=TOKEN, api_base_url=f"{api.url}/bot", allowed_chats=frozenset(), admins=frozenset({ADMIN}),
        rate_limit_per_minute=20, webhook_url="", webhook_listen="127.0.0.1", webhook_port=0,
    )
    values.update(overrides)
    return TelegramSettings(**values)


@pytest.fixture()
def bot(api, answerer):
    with RunningBot(build_application(answerer, settings_for(api))) as running:
        yield running


def last_text(api: FakeBotApi, chat_id: int, count: int = 1) -> str:
    messages = api.wait_for(lambda: len(api.sent_to(chat_id)) >= count and api.sent_to(chat_id))
    return messages[count - 1]["text"]


def test_start_registers_commands_and_greets_in_both_languages(api, bot):
    commands = api.wait_for(lambda: api.calls_of("setMyCommands"))
    names = {c["command"] for c in json.loads(commands[0]["commands"])}
    assert {"start", "help", "ask", "about", "new", "sources"} <= names
    api.push_message(1, "/start")
    text = last_text(api, 1)
    assert "你好" in text and "Hello" in text and "例如 / e.g.:\n• " in text
    titles = {p.title for p in bot.application.bot_data["news"].answerer.index.passages}
    examples = [line for line in text.splitlines() if line.startswith("• ")]
    assert examples and all(line.rstrip("）").rsplit("（", 1)[1] in titles for line in examples)
    api.push_message(1, "/about")
    about = last_text(api, 1, 2)
    assert "Passages: 46" in about and "Index: faiss, built " in about


def test_chinese_question_gets_the_right_excerpt_with_bold_terms_and_buttons(api, bot):
    api.push_message(2, "辽河禁渔期是什么时候？")
    reply = api.wait_for(lambda: api.sent_to(2))[0]
    assert "5月16日至7月31日" in re.sub(r"<[^>]+>", "", reply["text"])
    assert "<b>" in reply["text"] and "第2段" in reply["text"] and reply["parse_mode"] == "HTML"
    buttons = [b for row in json.loads(reply["reply_markup"])["inline_keyboard"] for b in row]
    assert {b["text"] for b in buttons} == {"Full paragraph", "More results"}
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)


def test_english_question_answered_from_chinese_text(api, bot):
    api.push_message(3, "When is the fishing ban on the Liao River?")
    assert "5月16日至7月31日" in re.sub(r"<[^>]+>", "", last_text(api, 3))


def test_more_results_edits_and_full_paragraph_sends_the_passage(api, bot, answerer):
    question = api.push_message(4, "丹顶鹤孵化了几只？")
    reply = api.wait_for(lambda: api.sent_to(4))[0]
    buttons = {b["text"]: b["callback_data"] for row in json.loads(reply["reply_markup"])["inline_keyboard"] for b in row}
    shown = {"message_id": 9001, "date": 0, "chat": {"id": 4, "type": "private", "first_name": "U"},
             "from": {"id": BOT_ID, "is_bot": True, "first_name": "News"}, "text": reply["text"],
             "reply_to_message": question}
    api.push_callback(4, shown, buttons["More results"])
    edit = api.wait_for(lambda: api.calls_of("editMessageText"))[0]
    assert edit["text"].startswith("2. ") and int(edit["message_id"]) == 9001
    assert api.calls_of("answerCallbackQuery")
    api.push_callback(4, shown, buttons["Full paragraph"])
    full = last_text(api, 4, count=2)
    passage = answerer.passage(buttons["Full paragraph"].split(":", 1)[1])
    assert passage.text in full and "丹顶鹤" in passage.text


def test_group_answers_mentions_and_replies_but_ignores_chatter(api, bot):
    api.push_message(-100, "大家好，今天天气不错", user_id=5, chat_type="group")
    mention = f"@{BOT_USERNAME}"
    api.push_message(-100, f"{mention} 盘锦市共有多少个基层党组织？", user_id=5, chat_type="group",
                     entities=[{"type": "mention", "offset": 0, "length": len(mention)}])
    assert "3410" in last_text(api, -100)
    bot_message = {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "group", "title": "g"},
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "News"}, "text": "…"}
    api.push_message(-100, "得胜村的村歌叫什么名字？", user_id=6, chat_type="group", reply_to=bot_message)
    assert "放飞梦想" in last_text(api, -100, count=2)
    api.push_message(-100, "/ask 小鹤每日几餐？", user_id=5, chat_type="group")
    last_text(api, -100, count=3)
    assert len(api.sent_to(-100)) == 3  # the chatter got nothing


def test_chat_outside_allow_list_gets_one_refusal_and_nothing_from_the_corpus(api, answerer):
    settings = settings_for(api, allowed_chats=frozenset({1}))
    with RunningBot(build_application(answerer, settings)):
        api.push_message(66, "辽河禁渔期是什么时候？")
        api.push_message(66, "盘锦市共有多少个基层党组织？")
        api.push_message(1, "盘锦市共有多少个基层党组织？")
        last_text(api, 1)
        refusals = api.sent_to(66)
        assert len(refusals) == 1 and "not available" in refusals[0]["text"]


def test_html_in_question_is_escaped(api, bot):
    api.push_message(7, "<script>alert(1)</script> & 丹顶鹤")
    text = last_text(api, 7)
    assert "<script>" not in text
    api.push_message(7, "<b>&</b>")
    assert "<b>&</b>" not in last_text(api, 7, count=2)


def test_non_text_message_gets_a_hint(api, bot):
    api.push_message(8, None, sticker=True)
    assert "text" in last_text(api, 8)


def test_rate_limit_says_slow_down(api, answerer):
    with RunningBot(build_application(answerer, settings_for(api, rate_limit_per_minute=2))):
        for _ in range(3):
            api.push_message(9, "丹顶鹤")
        texts = [m["text"] for m in api.wait_for(lambda: len(api.sent_to(9)) >= 3 and api.sent_to(9))]
        assert sum("slow down" in t.lower() or "稍后" in t for t in texts) == 1


def test_429_is_retried_and_delivered(api, bot):
    api.fail_next("sendMessage", 429)
    api.push_message(10, "辽河禁渔期是什么时候？")
    delivered = api.wait_for(lambda: len(api.sent_to(10)) >= 2 and api.sent_to(10))
    assert "5月16日" in delivered[-1]["text"]


def test_500_on_send_is_survived(api, bot):
    api.fail_next("sendMessage", 500)
    api.push_message(11, "辽河禁渔期是什么时候？")
    api.wait_for(lambda: api.sent_to(11))
    api.push_message(11, "盘锦市共有多少个基层党组织？")
    assert "3410" in last_text(api, 11, count=2)


def test_reload_by_admin_and_refused_for_others(api, bot):
    api.push_message(12, "/reload", user_id=12)
    assert "Only admins" in last_text(api, 12)
    api.push_message(ADMIN, "/reload", user_id=ADMIN)
    assert "Reloaded" in last_text(api, ADMIN)


def test_long_messages_split_at_lines_never_inside_tags():
    line = "<b>丹顶鹤</b> " + "很" * 100 + " &amp; <i>引用</i>"
    chunks = split_message("\n".join([line] * 60), limit=4096)
    assert len(chunks) > 1 and all(len(c) <= 4096 for c in chunks)
    for chunk in chunks:
        assert chunk.count("<b>") == chunk.count("</b>") and chunk.count("<i>") == chunk.count("</i>")
    single = split_message("x" * 5000 + "&amp;" + "y" * 5000)
    assert all(c.count("&") == c.count(";") for c in single)


def test_token_never_in_logs():
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        protect_logs(TOKEN)
        record = logging.LogRecord("httpx", logging.WARNING, __file__, 1, "POST %s", (f"/bot{TOKEN}/getMe",), None)
        for f in handler.filters:
            f.filter(record)
        assert TOKEN not in record.getMessage()
    finally:
        root.removeHandler(handler)


@pytest.mark.parametrize("token", ["", "not-a-token"])
def test_missing_or_malformed_token_is_one_clear_error(token, tmp_path):
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "telegram"], cwd=tmp_path, env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if token:
        assert token not in result.stdout + result.stderr


def test_a_new_build_is_served_without_restart_and_a_broken_one_never(api, encoder, base_settings, tmp_path, caplog):
    import shutil
    from dataclasses import replace

    from bot.answering import Answerer
    from bot.config import AnswerSettings
    from embeddings.build import build_index
    from embeddings.index_store import load_index
    from tests.conftest import CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    settings = replace(base_settings, corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, progress=False, encoder=encoder)
    answerer = Answerer(load_index(settings.index_dir), encoder, AnswerSettings(min_confidence=0.0))
    with RunningBot(build_application(answerer, settings_for(api, index_watch_seconds=0.2))):
        (corpus / "library.txt").write_text(
            "盘锦新图书馆开馆\n\n盘锦市图书馆新馆于7月1日开馆，馆内藏书一百二十万册，设有少儿阅览区。\n", encoding="utf-8")
        build_index(settings, progress=False, encoder=encoder)  # the rebuild script, as an admin runs it
        api.wait_for(lambda: answerer.index.manifest.passages == 47)
        api.push_message(31, "盘锦市图书馆新馆藏书多少册?")
        assert "一百二十万册" in last_text(api, 31)

        serving = answerer.index.path
        broken = settings.index_dir / "builds" / "broken"
        broken.mkdir()
        (broken / "manifest.json").write_text("{not json", encoding="utf-8")
        link = settings.index_dir / "current"
        link.unlink()
        link.symlink_to(broken)
        with caplog.at_level(logging.WARNING):
            api.wait_for(lambda: "cannot be served" in caplog.text)
        assert answerer.index.path == serving
        api.push_message(32, "盘锦市图书馆新馆藏书多少册?")
        assert "一百二十万册" in last_text(api, 32)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookBot(RunningBot):
    """The application in webhook mode, with the production webhook arguments."""

    def __init__(self, application, settings):
        super().__init__(application)
        self.settings = settings

    async def _main(self) -> None:
        from bot.telegram_bot import webhook_arguments

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        arguments = webhook_arguments(self.settings)
        async with self.application:
            await self.application.post_init(self.application)
            await self.application.start()
            await self.application.updater.start_webhook(**arguments)
            self._ready.set()
            await self._stop.wait()
            await self.application.updater.stop()
            await self.application.stop()


def test_webhook_mode_end_to_end_and_strangers_refused(api, answerer):
    port = _free_port()
    settings = settings_for(api, webhook_url=f"http://127.0.0.1:{port}", webhook_listen="127.0.0.1",
                            webhook_port=port, webhook_secret="s3cret-token_for-tests")
    with WebhookBot(build_application(answerer, settings), settings):
        registered = api.wait_for(lambda: api.calls_of("setWebhook"))[-1]
        assert registered["url"] == f"http://127.0.0.1:{port}/telegram"
        assert registered["secret_token"] == "s3cret-token_for-tests"
        api.push_message(41, "得胜村的村歌叫什么?")  # Telegram POSTs it to the webhook
        assert "村歌" in last_text(api, 41)
        assert api.webhook_statuses[-1] == 200
        stranger = {"message": {"message_id": 1, "date": 0, "chat": {"id": 43, "type": "private"},
                                "from": {"id": 43, "is_bot": False, "first_name": "x"}, "text": "得胜村的村歌叫什么?"}}
        assert api.post_to_webhook(stranger, secret="guess") == 403
        time.sleep(0.5)
        assert not api.sent_to(43)


def test_follow_ups_per_chat_per_user_in_groups_and_new(api, bot):
    api.push_message(51, "建设街道的党支部累计查摆了多少问题?")
    last_text(api, 51)
    api.push_message(51, "街道党工委书记是谁?")
    reply = last_text(api, 51, count=2)
    assert reply.startswith("<i>接上一问 / following up on: 党建引领") and "赵文星" in reply
    # another chat asking the same words has its own (empty) conversation
    api.push_message(52, "街道党工委书记是谁?")
    assert "接上一问" not in last_text(api, 52)
    # in a group, one user's thread is not another's
    api.push_message(-200, "/ask 建设街道的党支部累计查摆了多少问题?", user_id=7, chat_type="group")
    last_text(api, -200)
    api.push_message(-200, "/ask 街道党工委书记是谁?", user_id=8, chat_type="group")
    assert "接上一问" not in last_text(api, -200, count=2)
    api.push_message(-200, "/ask 街道党工委书记是谁?", user_id=7, chat_type="group")
    assert "赵文星" in last_text(api, -200, count=3) and "接上一问" in last_text(api, -200, count=3)
    # /new starts afresh
    api.push_message(51, "/new")
    assert "新的对话" in last_text(api, 51, count=3)
    api.push_message(51, "街道党工委书记是谁?")
    assert "接上一问" not in last_text(api, 51, count=4)
