"""Files made once into ``MODEL_CACHE_DIR`` from an installed package's data (a parsed
dictionary, a trie): written whole or not at all, and the versions made from an older install
removed."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def keep_cache_file(path: Path, write: Callable[[Path], None], stale: str) -> None:
    """``write`` fills a private file beside ``path`` that then replaces it in one step (another
    process never reads half a file); other files matching the glob ``stale`` are removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    for older in path.parent.glob(stale):
        if older != path:
            older.unlink(missing_ok=True)
