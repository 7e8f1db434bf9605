"""Seconds from an admin's document to the first answer that quotes it, in Telegram.

    .venv/bin/python bench/upload_to_answer.py

The real bot (python-telegram-bot, polling) against the fake Bot API of the tests, over a copy
of the shipped corpus in a temporary folder: the admin sends a small Markdown article; the
clock runs until the reply to a question about it quotes it (download, checks, incremental
build, swap, answer). Prints the seconds, and how long the build part took.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.answering import Answerer  # noqa: E402
from bot.config import AnswerSettings  # noqa: E402
from bot.telegram_bot import build_application  # noqa: E402
from bot.uploads import CorpusFolder, build_encoder  # noqa: E402
from embeddings.build import build_index  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.encoder import query_encoder  # noqa: E402
from embeddings.index_store import load_index  # noqa: E402
from embeddings.logs import configure_logging  # noqa: E402
from tests.fake_bot_api import FakeBotApi  # noqa: E402
from tests.test_telegram import ADMIN, TOKEN, RunningBot, settings_for  # noqa: E402

ARTICLE = "# 盘锦新图书馆开馆\n\n盘锦市图书馆新馆于7月1日开馆，馆内藏书一百二十万册，设有少儿阅览区。\n"


def main() -> int:
    configure_logging()
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        shutil.copytree(PROJECT_ROOT / "corpus", corpus)
        settings = replace(IndexSettings.from_env(), corpus_dir=corpus, index_dir=Path(folder) / "index")
        encoder = query_encoder(settings)
        build_index(settings, progress=False, encoder=build_encoder(encoder))
        answerer = Answerer(load_index(settings.index_dir), encoder, AnswerSettings())
        answerer.warm_up()
        api = FakeBotApi(TOKEN).start()
        try:
            corpus_folder = CorpusFolder(settings, encoder=build_encoder(encoder))
            with RunningBot(build_application(answerer, settings_for(api), corpus_folder)):
                started = time.perf_counter()
                api.push_document(ADMIN, "library.md", ARTICLE.encode("utf-8"))
                api.wait_for(lambda: any(m["text"].startswith("Added") for m in api.sent_to(ADMIN)), timeout=300)
                added = time.perf_counter() - started
                api.push_message(ADMIN, "盘锦市图书馆新馆藏书多少册?")
                api.wait_for(lambda: any("一百二十万册" in m["text"] for m in api.sent_to(ADMIN)), timeout=60)
                quoted = time.perf_counter() - started
        finally:
            api.stop()
    print(f"document sent -> 'Added' reply: {added:.2f} s; -> first answer quoting it: {quoted:.2f} s "
          f"(encoder for the build: {type(build_encoder(encoder) or 'sentence-transformers').__name__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
