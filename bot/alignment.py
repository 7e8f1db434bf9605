"""Does the excerpt say what the question is about, word by word, in meaning?

The encoder's contextual token vectors are matched one by one: each token of the question's own
words (question words, stop words and punctuation left out) finds its closest token in the
first excerpt (cosine), and the confidence model reads how close those matches are: their mean,
the weakest and the lower quartile. Unlike the lexical evidence, a match needs no shared
characters, so it holds for paraphrases and across languages (an English question's tokens
against a Chinese excerpt); and a question about a passage that is not in the corpus leaves
some of its words without a close partner in the sibling passage found instead.

The vectors are those of the encoder's layer ``ALIGNMENT_LAYER`` (6 of 12): a middle layer
aligns words as well as the last, and the two passes it takes (the question, the excerpt) cost
half as much (README, "Confidence and not found", has the figures).
"""

from __future__ import annotations

import re

import numpy as np

from embeddings.encoder import TokenStates

from .question import CHINESE_FUNCTION, ENGLISH_STOP, INTERROGATIVES

FEATURES = ("align_mean", "align_min", "align_q25")
# pieces made only of these say what is asked, not what it is about (是什么 is one piece)
_ASKING = re.compile("|".join(sorted(INTERROGATIVES, key=len, reverse=True)) + "|[" + "".join(CHINESE_FUNCTION) + "哪何谁几么]")
_WORDISH = re.compile(r"\w")


def _word(piece: str) -> str:
    return piece.replace("▁", "").strip().lower()


def _is_about(piece: str) -> bool:
    word = _word(piece)
    return word not in ENGLISH_STOP and bool(_WORDISH.search(_ASKING.sub("", word)))


def asked_rows(question: TokenStates) -> list[int]:
    """The question's tokens that carry what it is about (not question words, stop words or
    punctuation)."""
    return [i for i, piece in enumerate(question.pieces) if _is_about(piece)]


def alignment(question: TokenStates, excerpt: TokenStates) -> dict[str, float]:
    asked = asked_rows(question)
    said = [i for i, piece in enumerate(excerpt.pieces) if _WORDISH.search(_word(piece))]
    if not asked or not said:
        return dict.fromkeys(FEATURES, 0.0)
    closest = (question.vectors[asked] @ excerpt.vectors[said].T).max(axis=1)
    return {
        "align_mean": float(closest.mean()),
        "align_min": float(closest.min()),
        "align_q25": float(np.quantile(closest, 0.25)),
    }
