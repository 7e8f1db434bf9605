"""Zip-based files (.docx) are checked before any parser opens them: a small file that unpacks
to gigabytes (a zip bomb) is refused instead of filling the memory of the build."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .errors import UnreadableFile

MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # unpacked / packed, over the whole archive
MAX_MEMBERS = 10_000


def check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as error:
        raise UnreadableFile(f"a damaged zip container ({error})") from None
    unpacked = sum(member.file_size for member in members)
    packed = max(1, sum(member.compress_size for member in members))
    if len(members) > MAX_MEMBERS or unpacked > MAX_UNPACKED_BYTES or unpacked / packed > MAX_RATIO:
        raise UnreadableFile(
            f"refused as a likely zip bomb: {len(members)} parts unpacking to {unpacked / 1e6:.0f} MB "
            f"from {packed / 1e6:.1f} MB"
        )
