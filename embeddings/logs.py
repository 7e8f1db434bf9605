"""One logging set-up for every command (builds, the bot's front-ends, benchmarks)."""

from __future__ import annotations

import logging


def configure_logging() -> None:
    """Our own progress at INFO; the libraries' chatter (jieba, faiss, loaders) only if it matters."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("embeddings", "bot"):
        logging.getLogger(name).setLevel(logging.INFO)
    import jieba

    jieba.setLogLevel(logging.WARNING)
