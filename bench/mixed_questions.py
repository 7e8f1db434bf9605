"""Mixed-language questions from XQuAD: an English question that writes one of its terms in Chinese.

    .venv/bin/python bench/mixed_questions.py [--bench DIR] [--out FILE]

Users who ask in English about Chinese articles often write a name in Chinese ("what is the
得胜村 village song called?"). XQuAD's English and Chinese questions are parallel (same ids), so
each English question gets the Chinese word that its Chinese twin uses for one of its phrases:
the phrase's CC-CEDICT headwords (or, for a capitalised word, the characters its pinyin reads
as) that the Chinese question writes; a name is preferred, then the longest word. Questions
with no such phrase are left out; the contexts (Chinese) stay as they are, so the refusal
protocol removes the same contexts as for the two XQuAD files. Written as SQuAD JSON (default:
the model cache's ``eval/xquad_dev_mixed.json``), for ``python -m bot eval`` and
``bench/train_confidence.py``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.question import ENGLISH_STOP, INTERROGATIVES, LATIN_WORD  # noqa: E402
from bot.translation import MAX_PHRASE_WORDS, EnglishChinese  # noqa: E402
from embeddings.config import PROJECT_ROOT, IndexSettings  # noqa: E402
from embeddings.text import to_simplified  # noqa: E402



def default_path() -> Path:
    return IndexSettings.from_env().cache_dir / "eval" / "xquad_dev_mixed.json"


def shared_word(english: str, chinese: str, dictionary: EnglishChinese) -> tuple[int, int, str] | None:
    """Where a phrase of ``english`` stands (start, end) and the word ``chinese`` uses for it."""
    words = list(LATIN_WORD.finditer(english))
    best: tuple[tuple[bool, int], int, int, str] | None = None
    for at, first in enumerate(words):
        if first.group().lower() in ENGLISH_STOP:
            continue
        for size in range(1, min(MAX_PHRASE_WORDS, len(words) - at) + 1):
            phrase = " ".join(w.group() for w in words[at : at + size])
            found = dictionary.lookup(phrase.lower())
            if size == 1 and phrase[:1].isupper():
                found = found + dictionary.names(phrase)
            for word in found:
                if len(word) < 2 or word not in chinese or any(q in word for q in INTERROGATIVES):
                    continue
                rank = (phrase[:1].isupper(), len(word))  # a name first, then the longest word
                if best is None or rank > best[0]:
                    best = (rank, first.start(), words[at + size - 1].end(), word)
    return best[1:] if best else None


def mixed_question(english: str, chinese: str, dictionary: EnglishChinese) -> str | None:
    """``english`` with one phrase replaced by the word ``chinese`` uses for it, or None."""
    shared = shared_word(english, chinese, dictionary)
    if shared is None:
        return None
    start, end, word = shared
    return english[:start] + word + english[end:]


def mixed_chinese_question(english: str, chinese: str, dictionary: EnglishChinese) -> str | None:
    """The other way round: ``chinese`` writing that word as ``english``'s phrase (辽河的 fishing ban)."""
    shared = shared_word(english, chinese, dictionary)
    if shared is None:
        return None
    start, end, word = shared
    return chinese.replace(word, f" {english[start:end]} ", 1).strip()


def write_mixed(bench: Path, target: Path, into_chinese: bool = False) -> Path:
    english = json.loads((bench / "xquad_dev_en.json").read_text(encoding="utf-8"))
    chinese = json.loads((bench / "xquad_dev_zh.json").read_text(encoding="utf-8"))
    twins = {q["id"]: to_simplified(q["question"]) for a in chinese["data"] for p in a["paragraphs"] for q in p["qas"]}
    dictionary = EnglishChinese(IndexSettings.from_env().cache_dir)
    mixed = copy.deepcopy(english)
    for article in mixed["data"]:
        for paragraph in article["paragraphs"]:
            kept = []
            for qa in paragraph["qas"]:
                make = mixed_chinese_question if into_chinese else mixed_question
                question = make(qa["question"], twins.get(qa["id"], ""), dictionary)
                if question:
                    kept.append({**qa, "question": question})
            paragraph["qas"] = kept
    text = json.dumps(mixed, ensure_ascii=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:  # same file, same eval cache
        target.write_text(text, encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=PROJECT_ROOT.parent / "shared" / "bench")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--chinese", action="store_true",
                        help="Chinese questions writing one word in English instead (default file: xquad_dev_mixed_zh.json)")
    args = parser.parse_args(argv)
    default = default_path().with_name("xquad_dev_mixed_zh.json") if args.chinese else default_path()
    target = write_mixed(args.bench, args.out or default, into_chinese=args.chinese)
    data = json.loads(target.read_text(encoding="utf-8"))
    count = sum(len(p["qas"]) for a in data["data"] for p in a["paragraphs"])
    print(f"{count} mixed questions written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
