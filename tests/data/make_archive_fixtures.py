"""Writes the small real files under tests/data/archive/ that the reader tests read.

Run once by hand when the fixtures change (they are committed; the tests never run this):
    .venv/bin/pip install fpdf2 && apt-get install fonts-wqy-microhei
    .venv/bin/python tests/data/make_archive_fixtures.py
The texts are written for these tests (not taken from any newspaper).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

HERE = Path(__file__).parent / "archive"
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

HTML = """<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>红海滩风景廊道迎来旅游旺季</title>
<meta name="author" content="李明远">
<meta property="article:published_time" content="2019-07-02">
<link rel="canonical" href="https://news.example.org/2019/07/02/honghaitan.html">
</head><body>
<div class="nav"><a href="/">首页</a> | <a href="/local">本地</a> | <a href="/sport">体育</a> | <a href="/about">关于我们</a></div>
<div class="article">
<h1>红海滩风景廊道迎来旅游旺季</h1>
<p>七月初，位于辽河入海口的红海滩风景廊道迎来一年中的旅游旺季。景区管理处介绍，6月份景区共接待游客38.6万人次，同比增长12%。</p>
<p>今年景区新增了两条木栈道和一处观鸟平台，游客可以在平台上近距离观察黑嘴鸥的繁殖地。</p>
<h2>交通与门票</h2>
<p>景区门票为每人90元，盘锦市民凭身份证可享受半价优惠。从市区乘坐旅游专线大巴约需40分钟。</p>
<table><tr><th>月份</th><th>游客（万人次）</th></tr>
<tr><td>4月</td><td>15.2</td></tr><tr><td>5月</td><td>29.7</td></tr><tr><td>6月</td><td>38.6</td></tr></table>
</div>
<div class="footer">版权所有 示例日报社 | 联系我们 | 广告服务 | 网站地图</div>
</body></html>
"""

PDF_PAGES = [
    [
        ("head", "示例日报 2019年7月3日 第5版 农业"),
        ("title", "大洼区稻田养蟹喜获丰收"),
        ("byline", "本报记者 王海涛"),
        ("para", "　　金秋未至，大洼区的稻田里已是一派丰收景象。今年全区稻田养蟹面积达到45万亩，比去年扩大了"
                 "3万亩，预计河蟹总产量将突破2.8万吨。"),
        ("para", "　　“稻田养蟹，一地两用，一水两收。”区农业农村局的负责人说，河蟹在稻田里吃掉杂草和"
                 "害虫，粪便又成为水稻的肥料，每亩地可以为农民增收1200元左右。"),
        ("section", "技术培训进村入户"),
        ("para", "　　为了推广这种生态种养模式，区里今年组织了32场技术培训，聘请省水产科学研究院的"
                 "专家到田间地头讲解蟹种投放、水质管理和病害防治，参加培训的农民超过"),
        ("foot", "- 5 -"),
    ],
    [
        ("head", "示例日报 2019年7月3日 第5版 农业"),
        ("para", "4000人次。专家建议，蟹种投放密度以每亩400只为宜，过密会影响河蟹的规格和品质。"),
        ("para", "　　目前，大洼区的“稻田蟹”已经注册了地理标志商标，产品销往北京、上海、广州等二十多个城市。"),
        ("foot", "- 6 -"),
    ],
]

DOCX_PARAGRAPHS = [
    ("Title", "盘锦市2019年上半年空气质量公报"),
    (None, "2019年上半年，全市环境空气质量总体保持稳定，优良天数达到141天，占有效监测天数的77.9%。"),
    ("Heading 1", "主要污染物浓度"),
    (None, "细颗粒物（PM2.5）平均浓度为每立方米38微克，同比下降5%；可吸入颗粒物（PM10）平均浓度为每立方米67微克。"),
    ("TABLE", [["月份", "优良天数", "主要污染物"], ["1月", "20", "PM2.5"], ["2月", "19", "PM2.5"], ["3月", "24", "PM10"]]),
    ("Heading 1", "下半年工作安排"),
    (None, "下半年将重点开展秸秆禁烧和扬尘治理，力争全年优良天数比例达到80%以上。"),
]

CSV_ROWS = [
    {"标题": "盘锦港新增两条集装箱航线", "正文": "盘锦港集团7月1日宣布，新开通至天津和宁波的两条集装箱航线，每周各两班。\n"
     "航线开通后，盘锦地区企业的货物运往华东地区的时间将缩短一天。", "发布时间": "2019-07-01",
     "链接": "https://news.example.org/port.html", "作者": "赵晓光"},
    {"标题": "辽河绿水湾湿地公园开园", "正文": "辽河绿水湾湿地公园于6月28日正式开园，公园占地1200公顷，免费向市民开放。",
     "发布时间": "2019-06-28", "链接": "https://news.example.org/park.html", "作者": "孙丽"},
]

TRADITIONAL = """遼河口保護區觀測到丹頂鶴繁殖

今年春季，遼河口國家級自然保護區的工作人員在蘆葦蕩中觀測到三對野生丹頂鶴築巢繁殖，這是近五年來首次記錄到丹頂鶴在保護區內繁殖。
保護區管理局表示，將在繁殖期內限制遊客進入核心區，並安排專人巡護。
"""

UNTITLED = "盘锦市今年将新建和改造城市公厕60座，其中二十座位于老旧小区周边。\n"


def write_html() -> None:
    (HERE / "honghaitan-gb2312.html").write_bytes(HTML.encode("gb2312"))


def write_pdf() -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A5")
    pdf.add_font("wqy", fname=FONT)
    pdf.set_auto_page_break(False)
    for page in PDF_PAGES:
        pdf.add_page()
        for kind, text in page:
            if kind == "head":
                pdf.set_font("wqy", size=8)
                pdf.set_xy(10, 8)
                pdf.cell(0, 5, text)
                pdf.set_xy(10, 20)
            elif kind == "foot":
                pdf.set_font("wqy", size=8)
                pdf.set_xy(10, 195)
                pdf.cell(0, 5, text, align="C")
            else:
                size = {"title": 16, "section": 12}.get(kind, 10)
                pdf.set_font("wqy", size=size)
                pdf.set_x(10)
                pdf.multi_cell(128, size * 0.55, text)
                pdf.ln(2)
    pdf.set_title("")
    pdf.output(str(HERE / "epaper-2019-07-03.pdf"))


def write_docx() -> None:
    import docx

    document = docx.Document()
    document.core_properties.author = "盘锦市生态环境局"
    document.core_properties.title = ""
    for style, content in DOCX_PARAGRAPHS:
        if style == "TABLE":
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for r, row in enumerate(content):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        else:
            document.add_paragraph(content, style=style)
    document.save(HERE / "air-quality-2019h1.docx")


def write_csv() -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_ROWS[0]))
    writer.writeheader()
    writer.writerows(CSV_ROWS)
    (HERE / "cms-export.csv").write_bytes(out.getvalue().encode("utf-8-sig"))


def write_texts() -> None:
    (HERE / "traditional.txt").write_text(TRADITIONAL, encoding="utf-8")
    (HERE / "城市公厕建设.txt").write_text(UNTITLED, encoding="utf-8")


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    write_html()
    write_pdf()
    write_docx()
    write_csv()
    write_texts()
    print("written:", sorted(p.name for p in HERE.iterdir()))
