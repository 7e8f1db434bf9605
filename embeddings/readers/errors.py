"""What every reader raises or reports."""

from __future__ import annotations

from typing import Callable

Warn = Callable[[str], None]


class UnreadableFile(Exception):
    """The file gives no articles; the message says why and, where it can, what to do."""
