"""Read the corpus folder into articles and passages, repairing what the page layout broke.

Newspaper archives come as laid-out pages: several articles per file, bylines and photo
captions between paragraphs, paragraphs cut mid-sentence at column breaks, a paragraph printed
twice. The parser copes with all of that so that every passage is one clean paragraph.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .documents import Article, Paragraph, Passage, stable_id
from .text import ends_sentence, is_cjk, normalise, sentence_spans

log = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt"}
JSONL_SUFFIXES = {".jsonl"}
CORPUS_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | JSONL_SUFFIXES

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_IMAGE = re.compile(r"^!\[[^\]]*\]\([^)]*\)\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_NAME = r"[\u4e00-\u9fff·]{2,4}"
_REPORTER = r"(?:本报记者|本报通讯员|特约记者|通讯员|记者|实习生|编辑|撰稿)"
_BYLINE = re.compile(
    rf"^(?:{_NAME}\s+)*(?:{_REPORTER}\s*(?:{_NAME}\s*)+)+(?:摄|摄影|报道)?$"
)
_PHOTO_CREDIT = re.compile(rf"\s*{_NAME}\s*摄(?:影)?$")
_LATIN_LABEL = re.compile(r"\s+[A-Z][A-Z ]*$")
MAX_CAPTION_CHARS = 120


@dataclass
class CorpusParse:
    articles: list[Article] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_corpus(corpus_dir: Path) -> CorpusParse:
    """Every readable file below ``corpus_dir``; unreadable ones are skipped with a warning."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise FileNotFoundError(
            f"corpus folder {corpus_dir} does not exist: set CORPUS_DIR or pass --corpus"
        )
    result = CorpusParse()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file()):
        if path.suffix.lower() not in CORPUS_SUFFIXES or path.name.startswith("."):
            continue
        source = path.relative_to(corpus_dir).as_posix()
        try:
            articles = parse_file(path, source, warn=result.skipped.append)
        except UnreadableFile as problem:
            message = f"skipped {path}: {problem}"
            log.warning(message)
            result.skipped.append(message)
            continue
        result.files.append(source)
        result.articles.extend(articles)
        result.passages.extend(passages_of(articles))
    return result


class UnreadableFile(Exception):
    pass


def read_text(path: Path) -> str:
    data = path.read_bytes()
    if not data.strip():
        raise UnreadableFile("the file is empty")
    if b"\x00" in data[:8192]:
        raise UnreadableFile("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"not UTF-8 (byte {error.start}); convert it, e.g. iconv -f GB18030 -t UTF-8"
        ) from None


def parse_file(path: Path, source: str, warn=lambda message: None) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        articles = parse_jsonl(read_text(path), source, warn)
    else:
        articles = parse_page(read_text(path), source)
    articles = [a for a in articles if a.paragraphs]
    if not articles:
        raise UnreadableFile("no article text found in it")
    drop_duplicate_paragraphs(articles)
    return articles


# --- Markdown and plain-text pages --------------------------------------------------------


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks; every heading line is a block of its own."""
    blocks: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(_join_lines(current))
            current.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif _HEADING.match(line):
            flush()
            blocks.append(line)
        else:
            current.append(line)
    flush()
    return blocks


def _join_lines(lines: list[str]) -> str:
    joined = lines[0]
    for line in lines[1:]:
        needs_space = not (is_cjk(joined[-1]) or is_cjk(line[0]))
        joined += (" " if needs_space else "") + line
    return joined


def _clean_inline(text: str) -> str:
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", text)).strip()


def is_byline(text: str) -> bool:
    return len(text) <= 40 and bool(_BYLINE.match(text))


def is_caption(text: str) -> bool:
    return len(text) <= MAX_CAPTION_CHARS and bool(_PHOTO_CREDIT.search(text))


def parse_page(text: str, source: str) -> list[Article]:
    """``#`` article, ``##`` subtitle or next short article, ``###`` section or column label."""
    blocks = _blocks(text)
    headings = [_HEADING.match(b) for b in blocks]
    if not any(headings):
        return _headingless_article(blocks, source)

    articles: list[Article] = []
    current: Article | None = None
    accepts_subtitle = False
    section = column = ""

    def start(title: str) -> Article:
        article = Article(title=title, source=source, column=column)
        articles.append(article)
        return article

    for index, block in enumerate(blocks):
        heading = headings[index]
        if heading:
            level, title = len(heading.group(1)), _clean_inline(heading.group(2))
            if level == 1:
                column = section = ""
                current, accepts_subtitle = start(title), True
            elif level == 2:
                if current is not None and accepts_subtitle and not current.subtitle:
                    current.subtitle = title.lstrip("—-— ")
                else:
                    section = ""
                    current = start(title)
                accepts_subtitle = False
            else:
                following = headings[index + 1] if index + 1 < len(headings) else None
                if following and len(following.group(1)) == 2:
                    # a label straight above a short-article title names a column of the page
                    column = _LATIN_LABEL.sub("", title)
                else:
                    section = title
                    if current is None:
                        current = start(title)
                accepts_subtitle = False
            continue
        if _IMAGE.match(block):
            continue
        paragraph = _clean_inline(block)
        if not paragraph:
            continue
        if current is None:
            current = start(paragraph[:40])
        if is_byline(paragraph):
            current.byline = current.byline or paragraph
        elif is_caption(paragraph):
            current.captions.append(paragraph)
        else:
            current.paragraphs.append(Paragraph(paragraph, section or current.column))
            accepts_subtitle = False
    for article in articles:
        article.paragraphs = repair_paragraphs(article.paragraphs)
    return articles


def _headingless_article(blocks: list[str], source: str) -> list[Article]:
    """A plain text: one article, titled by its first line."""
    if not blocks:
        return []
    first, *rest = blocks
    title, _, remainder = first.partition("\n")
    article = Article(title=_clean_inline(title)[:120], source=source)
    body = ([remainder] if remainder.strip() else []) + rest
    for block in body:
        text = _clean_inline(block)
        if is_byline(text):
            article.byline = article.byline or text
        elif text:
            article.paragraphs.append(Paragraph(text))
    article.paragraphs = repair_paragraphs(article.paragraphs)
    return [article]


# --- JSONL archives -----------------------------------------------------------------------


def parse_jsonl(text: str, source: str, warn) -> list[Article]:
    articles = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            title, body = record["title"], record["text"]
            if not isinstance(title, str) or not isinstance(body, str):
                raise TypeError("title and text must be strings")
        except (ValueError, KeyError, TypeError) as error:
            message = f"skipped {source}:{number}: not an article record ({error})"
            log.warning(message)
            warn(message)
            continue
        article = Article(
            title=title.strip(), source=source,
            byline=str(record.get("author") or ""), date=str(record.get("date") or ""),
            url=str(record.get("url") or ""),
        )
        section = str(record.get("section") or "")
        for block in re.split(r"\n\s*\n|\n", body):
            if block.strip():
                article.paragraphs.append(Paragraph(block.strip(), section))
        article.paragraphs = repair_paragraphs(article.paragraphs)
        articles.append(article)
    return articles


# --- Repairs ------------------------------------------------------------------------------


def repair_paragraphs(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Join paragraphs that the layout cut mid-sentence."""
    repaired: list[Paragraph] = []
    for paragraph in paragraphs:
        previous = repaired[-1] if repaired else None
        if previous and previous.section == paragraph.section and not ends_sentence(previous.text):
            previous.text = join_cut(previous.text, paragraph.text)
        else:
            repaired.append(Paragraph(paragraph.text, paragraph.section))
    return repaired


def join_cut(head: str, tail: str) -> str:
    """``…难题,盘`` + ``盘锦市…`` is one ``盘`` printed twice across the cut, not a word ``盘盘``."""
    if head and tail and head[-1] == tail[0] and is_cjk(tail[0]) and not _is_word(tail[0] * 2):
        tail = tail[1:]
    return head + tail


def _is_word(candidate: str) -> bool:
    import jieba

    jieba.dt.check_initialized()
    return bool(jieba.get_FREQ(candidate))


def drop_duplicate_paragraphs(articles: list[Article]) -> None:
    """A paragraph printed twice in one file is kept once (its first occurrence)."""
    seen: set[str] = set()
    for article in articles:
        kept = []
        for paragraph in article.paragraphs:
            key = normalise(paragraph.text)
            if key not in seen:
                seen.add(key)
                kept.append(paragraph)
        article.paragraphs = kept


def passages_of(articles: list[Article]) -> list[Passage]:
    passages = []
    for position, article in enumerate(articles):
        article_id = stable_id(article.source, str(position), article.title)
        for ordinal, paragraph in enumerate(article.paragraphs, start=1):
            passages.append(
                Passage(
                    id=stable_id(article.source, paragraph.text),
                    text=paragraph.text,
                    article_id=article_id,
                    title=article.title,
                    ordinal=ordinal,
                    source=article.source,
                    subtitle=article.subtitle,
                    section=paragraph.section,
                    byline=article.byline,
                    date=article.date,
                    url=article.url,
                    sentences=sentence_spans(paragraph.text),
                )
            )
    return passages
