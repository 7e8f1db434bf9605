"""Example questions for /start, drawn from the corpus in use (not a fixed question about one page).

No generative model: a clause of a random passage that states one number ("盘锦市共有3410个
基层党组织") becomes a question by putting 多少 in the number's place ("盘锦市共有多少个基层
党组织？"); a year becomes 哪一年. Every example is thus answered by the clause it came from.
Corpora without Chinese clauses of that kind get their article titles instead.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from embeddings.documents import Passage
from embeddings.text import CJK_CHAR

_CLAUSE = re.compile(r"[^,，。；;！!？?：:“”\"（）()]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)年")
_LEADING = re.compile(r"^(据介绍|据了解|据悉|目前|其中|截至目前|同时|此外|今年以来|近年来|本报讯|并|而|且|还|也|又)\s*")
MIN_CHARS, MAX_CHARS = 8, 32


def example_questions(
    passages: Sequence[Passage], count: int = 3, seed: int | None = None,
    answered_from: Callable[[str], str | None] | None = None,
) -> list[tuple[str, str]]:
    """Up to ``count`` (question, article title) pairs from random passages (a few reads, whatever
    the corpus size). ``answered_from(question)`` gives the article id the bot answers a question
    from; when given, only examples answered from their own article are kept (a clause without
    its subject, "实现村集体收入多少万元", can belong to several)."""
    chooser = random.Random(seed)
    rows = chooser.sample(range(len(passages)), min(len(passages), 60))
    found: list[tuple[str, str]] = []
    for row in rows:
        passage = passages[row]
        question = question_from(passage.text, chooser)
        if not question or question in [q for q, _ in found]:
            continue
        if answered_from is not None and answered_from(question) != passage.article_id:
            continue
        found.append((question, passage.title))
        if len(found) >= count:
            break
    return found


def question_from(text: str, chooser: random.Random) -> str | None:
    clauses = [c.strip() for c in _CLAUSE.findall(text)]
    chooser.shuffle(clauses)
    for clause in clauses:
        clause = _LEADING.sub("", clause)
        if not (MIN_CHARS <= len(clause) <= MAX_CHARS) or len(CJK_CHAR.findall(clause)) < 6:
            continue
        numbers = _NUMBER.findall(clause)
        if len(numbers) != 1:
            continue
        if _YEAR.search(clause):
            return _YEAR.sub("哪一年", clause, count=1) + "？"
        if re.search(r"\d+(?:\.\d+)?\s*[月日号时点%％]", clause):
            continue  # dates, times and percentages make clumsy questions
        asked = _NUMBER.sub("多少", clause, count=1)
        asked = re.sub(r"多少多", "多少", asked)  # 30多天 → 多少天
        asked = re.sub(r"多少(\w?)余", r"多少\1", asked)  # 3600余次, 万余元 → 多少次, 多少万元
        return asked + "？"
    return None
