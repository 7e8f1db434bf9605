"""jieba's dictionary from the memory-mapped trie: the same words as jieba's own load."""

from __future__ import annotations

import logging

import jieba

from embeddings import word_dictionary
from embeddings.corpus import parse_corpus
from tests.conftest import CORPUS


def _fresh() -> jieba.Tokenizer:
    tokenizer = jieba.Tokenizer()
    jieba.setLogLevel(logging.WARNING)
    return tokenizer


def test_the_trie_segments_as_jieba_does(tmp_path):
    text = "\n".join(p.text for p in parse_corpus(CORPUS).passages) + "\n丹顶鹤在辽河口湿地栖息。南京市长江大桥"
    own = _fresh()
    expected = (list(own.cut(text)), list(own.cut_for_search(text)), list(own.tokenize(text)))

    first = _fresh()
    assert not word_dictionary.install(first, tmp_path)  # writes the trie, loads jieba's way once
    assert list(tmp_path.glob("jieba-*.marisa"))
    mapped = _fresh()
    assert word_dictionary.install(mapped, tmp_path)  # from now on: mapped, not loaded
    assert isinstance(mapped.FREQ, word_dictionary.TrieFrequencies) and mapped.total == own.total
    for _ in range(2):  # cold lookups, then remembered ones
        assert (list(mapped.cut(text)), list(mapped.cut_for_search(text)), list(mapped.tokenize(text))) == expected
    assert mapped.FREQ.get("丹顶鹤") == own.FREQ["丹顶鹤"] and "丹顶" in mapped.FREQ
    assert mapped.FREQ.get("不是一个词语的字符串") is None and "不是一个词语的字符串" not in mapped.FREQ
    mapped.add_word("得胜村村歌")  # user words still go in
    assert "得胜村村歌" in list(mapped.cut("得胜村村歌很好听"))


def test_a_damaged_trie_is_named_and_written_again(tmp_path, caplog):
    assert not word_dictionary.install(_fresh(), tmp_path)
    trie = next(tmp_path.glob("jieba-*.marisa"))
    trie.write_bytes(b"damaged")
    tokenizer = _fresh()
    assert not word_dictionary.install(tokenizer, tmp_path)  # loaded jieba's way, the trie rewritten
    assert str(trie) in caplog.text and "unusable" in caplog.text
    assert list(tokenizer.cut("丹顶鹤")) == ["丹顶鹤"]
    assert word_dictionary.install(_fresh(), tmp_path)
