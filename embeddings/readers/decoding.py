"""Bytes to text for the text formats: UTF-8 first, then what the file declares, then detection.

Chinese archives are full of GBK and GB18030 files (older CMS exports, e-paper HTML, Excel's
CSV). GB18030 is read for any of the GB family, since it is a superset of GB2312 and GBK.
"""

from __future__ import annotations

import codecs
import re

from .errors import UnreadableFile

_GB_FAMILY = {"gb2312", "gbk", "cp936", "ms936", "gb18030", "euc-cn", "x-gbk", "hz-gb-2312"}
_HTML_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:]+)""", re.I)


def _codec(name: str) -> str | None:
    name = name.strip().lower()
    if name in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first few kilobytes (``<meta charset=…>``)."""
    match = _HTML_CHARSET.search(data[:4096])
    return _codec(match.group(1).decode("ascii", "ignore")) if match else None


def decode(data: bytes, declared: str | None = None) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("the file is binary, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:1_000_000]).best()
    codec = _codec(best.encoding) if best is not None else None
    if codec is None:
        raise UnreadableFile(
            "cannot tell its text encoding; convert it to UTF-8, e.g. iconv -f GB18030 -t UTF-8"
        )
    return data.decode(codec, errors="replace")
