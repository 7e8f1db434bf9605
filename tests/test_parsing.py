"""Parsing the shipped page and the other corpus formats, with the layout repairs."""

from __future__ import annotations

import json

from embeddings.corpus import parse_corpus
from embeddings.repairs import join_cut
from embeddings.text import sentence_spans
from tests.conftest import CORPUS


def shipped():
    return parse_corpus(CORPUS)


def test_shipped_page_articles_columns_bylines_and_captions():
    parsed = shipped()
    titles = [a.title for a in parsed.articles]
    assert titles[0] == "党建引领 聚合振兴发展动力" and titles[-1] == "得胜村用红色音符谱写乡村振兴曲"
    assert len(titles) == 8
    lead = parsed.articles[0]
    assert lead.subtitle == "盘锦市基层党组织建设质量提升年工作侧记"
    assert lead.byline == "王健 本报记者 刘立杉"
    assert lead.captions == ["兴隆台区锦祥社区的“板凳党课”现场。 刘杰摄"]
    columns = {a.title: a.column for a in parsed.articles}
    assert columns["增殖放流 养护辽河流域水生资源"] == "鹤乡快讯"
    assert columns["文化消费节拉开帷幕"] == "图说"
    texts = [p.text for p in parsed.passages]
    assert not any("本报记者 刘立杉" == t or t.endswith("刘杰摄") for t in texts)


def test_cut_paragraphs_are_joined_and_the_repeated_character_kept_once():
    texts = [p.text for p in shipped().passages]
    assert any("盘锦市在基层党组织建设质量提升年活动中" in t for t in texts)
    assert any("形成一套覆盖全市各行业" in t for t in texts)
    assert any("留不住人的难题,盘锦市创新设置" in t for t in texts)
    assert not any("难题,盘盘锦市" in t for t in texts)
    assert join_cut("我们每个人", "人都有") == "我们每个人人都有"  # 人人 is a word: both stay


def test_duplicate_paragraph_indexed_once_and_sections_and_ordinals():
    passages = shipped().passages
    duplicated = [p for p in passages if p.text.startswith("在双台子区,建设街道通过组织党员")]
    assert len(duplicated) == 1
    assert duplicated[0].section == "抓规范 党建工作标准化" and duplicated[0].ordinal == 8
    assert len({p.id for p in passages}) == len(passages)


def test_sentences_with_offsets_take_closing_quotes():
    text = "他说:“许多事儿很快就解决了。”改造后,广场实行了“四进驻”。What? Yes. 2.2万人"
    spans = sentence_spans(text)
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0] == "他说:“许多事儿很快就解决了。”"
    assert pieces[1] == "改造后,广场实行了“四进驻”。"
    assert pieces[2:] == ["What?", "Yes.", "2.2万人"]


def test_txt_jsonl_and_unreadable_files(tmp_path):
    (tmp_path / "plain.txt").write_text("一篇文章的标题\n\n第一段正文。\n\n第二段正文。\n", encoding="utf-8")
    (tmp_path / "archive.jsonl").write_text(
        json.dumps({"title": "档案", "text": "第一段。\n第二段。", "date": "2019-06-12",
                    "url": "https://example.org/a", "author": "记者", "section": "要闻"}, ensure_ascii=False)
        + "\nnot json\n", encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    (tmp_path / "binary.md").write_bytes(b"\x00\x01\x02binary")
    sub = tmp_path / "nested"
    sub.mkdir()
    (sub / "deep.md").write_text("# 标题\n\n正文。\n", encoding="utf-8")
    parsed = parse_corpus(tmp_path)
    by_title = {a.title: a for a in parsed.articles}
    assert by_title["一篇文章的标题"].paragraphs[1].text == "第二段正文。"
    archive = by_title["档案"]
    assert (archive.date, archive.url, archive.byline) == ("2019-06-12", "https://example.org/a", "记者")
    assert "标题" in by_title and sorted(parsed.files) == ["archive.jsonl", "nested/deep.md", "plain.txt"]
    warnings = "\n".join(parsed.skipped)
    for name in ("empty.md", "binary.md", "archive.jsonl:2"):
        assert name in warnings
