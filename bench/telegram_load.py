"""Load: 50 users in separate chats each send 4 questions at once through the fake Bot API.

Run: .venv/bin/python bench/telegram_load.py
Checks every question is answered exactly once and no error was logged; prints throughput
(answers/s) and reply latency p50/p95.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from bot.answering import Answerer  # noqa: E402
from bot.config import TelegramSettings  # noqa: E402
from bot.telegram_bot import build_application  # noqa: E402
from tests.fake_bot_api import FakeBotApi  # noqa: E402
from tests.test_telegram import TOKEN, RunningBot  # noqa: E402

USERS, QUESTIONS_EACH = 50, 4
QUESTIONS = ["辽河禁渔期是什么时候？", "盘锦市共有多少个基层党组织？", "丹顶鹤孵化了几只？",
             "When is the fishing ban on the Liao River?"]


class ErrorCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record):
        self.count += 1


def main() -> None:
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    index_dir = Path(os.environ.get("INDEX_DIR", "index"))
    answerer = Answerer.load(index_dir)
    api = FakeBotApi(TOKEN).start()
    settings = TelegramSettings(TOKEN, f"{api.url}/bot", frozenset(), frozenset(), 1000, "", "", 0)
    sent_at = {}
    with RunningBot(build_application(answerer, settings)):
        started = time.perf_counter()
        for user in range(1, USERS + 1):
            for n in range(QUESTIONS_EACH):
                message = api.push_message(10_000 + user, QUESTIONS[n])
                sent_at[message["message_id"]] = time.perf_counter()
        expected = USERS * QUESTIONS_EACH
        api.wait_for(lambda: len(api.calls_of("sendMessage")) >= expected, timeout=600)
        elapsed = time.perf_counter() - started
        time.sleep(1.0)  # anything answered twice would arrive now
    api.stop()
    replied_to, latencies = [], []
    for (method, params), at in zip(api.calls, api.call_times):
        if method == "sendMessage":
            target = json.loads(params["reply_parameters"])["message_id"]
            replied_to.append(target)
            latencies.append(at - sent_at[target])
    latencies.sort()
    once = len(replied_to) == expected and len(set(replied_to)) == expected
    p = lambda q: latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000  # noqa: E731
    print(f"{expected} questions from {USERS} chats: answered exactly once: {once}; errors logged: {errors.count}")
    print(f"throughput {expected / elapsed:.1f} answers/s; reply latency p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms")


if __name__ == "__main__":
    main()
