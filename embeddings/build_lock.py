"""One build at a time per index folder: a second build waits (or, asked not to, says clearly
that one is running) instead of discarding the first one's half-written files."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)
LOCK_FILE = "build.lock"


class BuildRunning(RuntimeError):
    """Another build holds the index folder and we were asked not to wait."""


@contextlib.contextmanager
def build_lock(index_dir: Path, wait: bool = True) -> Iterator[None]:
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_FILE
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            message = f"another build of {index_dir} is running ({holder})"
            if not wait:
                raise BuildRunning(f"{message}: wait for it to finish, or run without --no-wait") from None
            log.warning("%s; waiting for it to finish", message)
            started = time.perf_counter()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.info("the other build finished after %.0f s; building now", time.perf_counter() - started)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
