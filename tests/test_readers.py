"""Every format a newsroom keeps, read from real files committed under tests/data/archive/."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from embeddings.config import ReadingSettings
from embeddings.corpus import parse_corpus
from embeddings.passages import split_long
from embeddings.readers import UnreadableFile, read_articles

ARCHIVE = Path(__file__).parent / "data" / "archive"


def read(name: str):
    return read_articles(ARCHIVE / name, name)


def test_html_main_text_metadata_and_gb2312():
    (article,) = read("honghaitan-gb2312.html")
    assert article.title == "红海滩风景廊道迎来旅游旺季"
    assert (article.byline, article.date) == ("李明远", "2019-07-02")
    assert article.url == "https://news.example.org/2019/07/02/honghaitan.html"
    texts = [p.text for p in article.paragraphs]
    assert texts[0].startswith("七月初，位于辽河入海口的红海滩")  # decoded from GB2312
    assert not any("首页" in t or "版权所有" in t for t in texts)  # navigation and footer left out
    fares = next(p for p in article.paragraphs if "门票" in p.text)
    assert fares.section == "交通与门票"
    table = next(p for p in article.paragraphs if p.table)
    assert table.text.splitlines() == ["月份 | 游客（万人次）", "4月 | 15.2", "5月 | 29.7", "6月 | 38.6"]


def test_pdf_running_heads_page_numbers_and_paragraph_cut_by_the_page():
    (article,) = read("epaper-2019-07-03.pdf")
    assert article.title == "大洼区稻田养蟹喜获丰收"
    assert article.byline == "本报记者 王海涛"
    texts = [p.text for p in article.paragraphs]
    assert len(texts) == 4
    assert not any("示例日报" in t or "- 5 -" in t for t in texts)
    # a paragraph cut by the line breaks of the column and by the page break is whole again
    assert "参加培训的农民超过4000人次。专家建议" in texts[2]
    assert texts[0] == ("金秋未至，大洼区的稻田里已是一派丰收景象。今年全区稻田养蟹面积达到45万亩，"
                        "比去年扩大了3万亩，预计河蟹总产量将突破2.8万吨。")
    assert [p.section for p in article.paragraphs] == ["", "", "技术培训进村入户", "技术培训进村入户"]


def test_docx_styles_and_tables_in_reading_order():
    (article,) = read("air-quality-2019h1.docx")
    assert article.title == "盘锦市2019年上半年空气质量公报"
    assert article.byline == "盘锦市生态环境局"
    sections = [(p.section, p.table) for p in article.paragraphs]
    assert sections == [("", False), ("主要污染物浓度", False), ("主要污染物浓度", True), ("下半年工作安排", False)]
    assert article.paragraphs[2].text.splitlines()[1] == "1月 | 20 | PM2.5"


def test_csv_export_with_chinese_headers_and_a_column_mapping(tmp_path, monkeypatch):
    port, park = read("cms-export.csv")
    assert (port.title, port.date, port.byline) == ("盘锦港新增两条集装箱航线", "2019-07-01", "赵晓光")
    assert port.url == "https://news.example.org/port.html" and len(port.paragraphs) == 2
    assert park.paragraphs[0].text.startswith("辽河绿水湾湿地公园于6月28日正式开园")

    custom = tmp_path / "export.tsv"
    custom.write_text("Headline\tBody Text\tPublished\n港口新闻\t新航线开通。\t2019-07-05\n\t\t\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="CSV_COLUMNS"):
        read_articles(custom, "export.tsv")
    monkeypatch.setenv("CSV_COLUMNS", "title=Headline, text=Body Text, date=Published")
    (article,) = read_articles(custom, "export.tsv")
    assert (article.title, article.date, article.paragraphs[0].text) == ("港口新闻", "2019-07-05", "新航线开通。")


def test_plain_text_without_a_title_line_is_titled_from_its_file_name():
    (article,) = read("城市公厕建设.txt")
    assert article.title == "城市公厕建设"
    assert article.paragraphs[0].text.startswith("盘锦市今年将新建和改造城市公厕60座")


def test_gbk_text_is_decoded(tmp_path):
    text = "盘锦市召开防汛工作会议。会议要求各部门做好汛期值班，确保群众生命财产安全。"
    (tmp_path / "防汛.txt").write_bytes(("防汛会议\n\n" + text).encode("gbk"))
    (article,) = parse_corpus(tmp_path).articles
    assert (article.title, article.paragraphs[0].text) == ("防汛会议", text)


def test_type_by_content_and_zip_bombs(tmp_path):
    (tmp_path / "not-really.pdf").write_text("就是一段文字。", encoding="utf-8")
    (tmp_path / "page.txt.html").write_bytes((ARCHIVE / "honghaitan-gb2312.html").read_bytes())
    (tmp_path / "program.docx").write_bytes(b"MZ\x90\x00" + b"\x00" * 100)
    (tmp_path / "old.docx").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\x00" * (300 * 1024 * 1024))
    (tmp_path / "bomb.docx").write_bytes(bomb.getvalue())
    parsed = parse_corpus(tmp_path)
    assert parsed.files == ["page.txt.html"]
    warnings = "\n".join(parsed.skipped)
    assert "not-really.pdf: named .pdf but its content is not a PDF file" in warnings
    assert "program.docx: named .docx but its content is not a DOCX file" in warnings
    assert "old.docx: an old Word (.doc) or RTF file; save it as .docx" in warnings
    assert "bomb.docx: refused as a likely zip bomb" in warnings


def test_long_paragraphs_are_split_into_cited_parts_and_big_files_refused(tmp_path, monkeypatch):
    sentence = "辽河口湿地是东亚至澳大利西亚候鸟迁徙路线上的重要停歇地，每年春秋两季都有大量水鸟在此觅食休息。"
    body = sentence * 4000 + "没有标点的长句" * 600 + "。"  # ~200,000 characters, one line
    (tmp_path / "export.txt").write_text("湿地档案\n" + body + "\n第二段。\n", encoding="utf-8")
    parsed = parse_corpus(tmp_path, ReadingSettings(passage_max_chars=1000))
    first = [p for p in parsed.passages if p.ordinal == 1]
    assert len(first) > 150 and all(len(p.text) <= 1000 for p in first)
    assert [p.part for p in first] == list(range(1, len(first) + 1))
    assert "".join(p.text for p in first) == body  # verbatim parts, nothing lost
    # cut at sentence ends where there are some; the unpunctuated run (4,200 characters) anywhere
    assert sum(not p.text.endswith("。") for p in first) <= 5
    (second,) = [p for p in parsed.passages if p.ordinal == 2]
    assert second.part == 0 and second.text == "第二段。"

    monkeypatch.setenv("CORPUS_MAX_FILE_MB", "0.1")
    refused = parse_corpus(tmp_path)
    assert not refused.files and "over the 0 MB limit per file; split it, or raise CORPUS_MAX_FILE_MB" in refused.skipped[0]


def test_split_long_keeps_short_text_whole_and_cuts_at_clauses():
    assert split_long("短句。", 10) == [(0, 3)]
    text = "第一部分，" * 50
    spans = split_long(text, 100)
    assert all(b - a <= 100 and text[b - 1] == "，" for a, b in spans)
    assert "".join(text[a:b] for a, b in spans) == text


def test_traditional_source_is_found_by_simplified_terms():
    from embeddings import lexical

    (article,) = read("traditional.txt")
    assert article.title == "遼河口保護區觀測到丹頂鶴繁殖"
    tokens = set(lexical.tokens(article.paragraphs[0].text))
    assert {"丹顶鹤", "保护区"} <= tokens


@pytest.fixture(scope="module")
def archive_answerer(base_settings, encoder, tmp_path_factory):
    from dataclasses import replace

    from bot.answering import Answerer
    from bot.config import AnswerSettings
    from embeddings.build import build_index
    from embeddings.index_store import load_index

    settings = replace(base_settings, corpus_dir=ARCHIVE, index_dir=tmp_path_factory.mktemp("archive-index"))
    report = build_index(settings, progress=False, encoder=encoder)
    assert (report.files, report.skipped) == (6, ())
    # reading and retrieval are under test here, not the refusal (a corpus of 18 passages)
    return Answerer(load_index(settings.index_dir), encoder, AnswerSettings(min_confidence=0.0))


@pytest.mark.slow
@pytest.mark.parametrize("question, source, expected", [
    ("红海滩景区的门票多少钱?", "honghaitan-gb2312.html", "90元"),
    ("紅海灘景區6月份接待了多少遊客?", "honghaitan-gb2312.html", "38.6万人次"),  # traditional question
    ("大洼区稻田养蟹面积有多大?", "epaper-2019-07-03.pdf", "45万亩"),
    ("参加稻田养蟹技术培训的农民有多少人次?", "epaper-2019-07-03.pdf", "4000人次"),
    ("上半年空气质量优良天数有多少天?", "air-quality-2019h1.docx", "141天"),
    ("盘锦港新开通了哪两条集装箱航线?", "cms-export.csv", "天津和宁波"),
    ("辽河口保护区观测到几对丹顶鹤筑巢繁殖?", "traditional.txt", "三對"),  # traditional source
    ("城市公厕今年要新建和改造多少座?", "城市公厕建设.txt", "60座"),
])
def test_every_format_answers_its_questions(archive_answerer, question, source, expected):
    answer = archive_answerer.answer(question)
    first = answer.hits[0]
    assert first.source == source and expected in first.excerpt


def test_a_text_file_with_markdown_headings_is_read_as_a_page(tmp_path):
    (tmp_path / "page.txt").write_text("# 第一篇\n\n正文一。\n\n# 第二篇\n\n正文二。\n", encoding="utf-8")
    assert [(a.title, a.paragraphs[0].text) for a in parse_corpus(tmp_path).articles] == [
        ("第一篇", "正文一。"), ("第二篇", "正文二。")]
