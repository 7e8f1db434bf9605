"""The excerpt: learned choice of the window, word-level highlights, and the marked answer."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest

from bot import ask
from bot.answer import Hit
from bot.answer_span import MODEL_PATH as SPAN_MODEL, AnswerSpanModel, candidates
from bot.evaluate import answer_hit, evaluate, load_jsonl_cases
from bot.excerpt import (
    FEATURES, MAX_EXCERPT_CHARS, MODEL_PATH as RANKER_MODEL, RUN_CHARS, RUN_SENTENCES, ExcerptRanker,
    _char_share, _codes, _question_chars, candidate_windows, length_cost,
)
from bot.highlight import highlight_spans, question_words
from bot.linear_model import ModelFileError
from bot.question import parse_question
from bot.render_text import render_answer
from bot.telegram_render import answer_html, split_message

from .conftest import QUESTIONS


def test_candidate_windows_are_sentences_runs_and_clause_windows():
    short = ["盘锦市共有基层党组织3410个。", "其中社区党组织239个。", "农村党组织1200个。", "机关党组织800个。"]
    long = "，".join(["这是一个很长的分句用来测试窗口的切分是否正确"] * 8) + "。"
    text = "".join(short) + long
    ends = list(itertools.accumulate(len(s) for s in short + [long]))
    spans = list(zip([0] + ends[:-1], ends))
    windows = candidate_windows(text, spans)
    assert {w.kind for w in windows} == {"sentence", "run", "clauses"}
    runs = {(w.first, w.last) for w in windows if w.kind == "run"}
    assert {(0, 1), (0, 2), (1, 3)} <= runs  # a sentence with the next one or two
    assert not any(last - first + 1 > RUN_SENTENCES for first, last in runs)
    assert not any(4 in (first, last) for first, last in runs)  # the long sentence joins nothing
    for w in windows:
        assert 0 <= w.start < w.end <= len(text) and w.end - w.start <= MAX_EXCERPT_CHARS
        if w.kind == "run":
            assert w.end - w.start <= RUN_CHARS and (w.start, w.end) == (spans[w.first][0], spans[w.last][1])
        if w.kind == "clauses":  # cut at clause marks only (or the sentence's own ends)
            assert w.start == spans[4][0] or text[w.start - 1] == "，"
    assert not any(w.kind == "sentence" and w.first == 4 for w in windows)  # longer than allowed whole


def test_shared_characters_count_where_the_subject_does_not():
    """颜色 is answered by 银灰色: the window sharing a character of what is asked scores higher
    than the others, and a character every sentence holds (the subject) counts for little."""
    sentences = ["蓝线鲷是鲈形目的一种鱼。", "蓝线鲷体呈银灰色，有污斑。", "蓝线鲷分布于西太平洋。"]
    text = "".join(sentences)
    ends = list(itertools.accumulate(len(s) for s in sentences))
    spans = list(zip([0] + ends[:-1], ends))
    chars = _question_chars(parse_question("蓝线鲷的身体是什么颜色的？").simplified)
    assert "的" not in chars and "什" not in chars and "色" in chars
    share = _char_share(_codes(text), chars, spans, np.array([a for a, _ in spans]), np.array([b for _, b in spans]))
    assert share[0] == share[2] < share[1] / 4


def test_length_costs_only_the_characters_past_the_free_ones():
    cost = length_cost(np.array([30.0, 40.0, 90.0]), penalty=2.0, free_chars=40.0)
    assert cost.tolist() == [0.0, 0.0, 1.0]


def test_excerpt_ranker_file_is_small_and_reads_only_computed_features():
    ranker = ExcerptRanker.load()
    assert set(ranker.ranker.features) <= set(FEATURES) and ranker.length_penalty >= 0
    assert RANKER_MODEL.stat().st_size < 400_000 and SPAN_MODEL.stat().st_size < 400_000
    assert "held_out_figures" in ranker.ranker.about


@pytest.mark.parametrize("model_file", [RANKER_MODEL, SPAN_MODEL])
def test_numpy_tree_scores_equal_lightgbm_predict(model_file):
    """Answering evaluates the trees with numpy; LightGBM (a training dependency) is the reference."""
    import lightgbm
    import numpy as np

    from bot.tree_predict import TreeEnsemble

    trees = json.loads(model_file.read_text(encoding="utf-8"))["trees"]
    booster = lightgbm.Booster(model_str=trees)
    rows = np.random.default_rng(7).normal(0, 0.5, (500, booster.num_feature()))
    rows[rows > 0.8] = 0.0
    rows[:20, :5] = np.nan
    ensemble = TreeEnsemble.from_model_string(trees)
    assert ensemble._bitmasks is not None  # the shipped models take the quick path
    assert np.allclose(ensemble.predict(rows), booster.predict(rows), atol=1e-9)
    assert np.allclose(ensemble._predict_by_walking(rows), booster.predict(rows), atol=1e-9)
    assert np.allclose(ensemble.predict(rows[:1]), booster.predict(rows[:1]), atol=1e-9)


@pytest.mark.parametrize("load, name", [(ExcerptRanker.load, "train_excerpt_ranker"),
                                        (AnswerSpanModel.load, "train_answer_span")])
def test_missing_or_corrupt_model_files_name_the_file_and_the_fix(tmp_path, load, name):
    broken = tmp_path / "model.json"
    broken.write_text('{"features": ["x"], "trees": "garbage"', encoding="utf-8")
    for path in (broken, tmp_path / "missing.json"):
        with pytest.raises(ModelFileError, match=path.name) as error:
            load(path)
        assert name in str(error.value)


def test_highlights_follow_words_not_character_pairs():
    question = parse_question("得胜村的村歌叫什么?")
    text = "办好农村的事情，得胜村的村歌唱响了。"
    marked = [text[a:b] for a, b in highlight_spans(text, question_words(question))]
    assert "村的" not in "".join(marked[:1]) and all("农村" not in m and "村的" != m for m in marked)
    assert "得胜村" in marked and "村歌" in marked
    assert highlight_spans("办好农村的事情", question_words(question)) == []


def test_a_question_word_is_not_marked_across_or_inside_other_words():
    """"River" → 河流 must not mark 辽【河流】域; 辽河 and 流域, head and tail of 辽河流域, may be marked."""
    text = "据悉,辽河流域禁渔期为5月16日至7月31日"
    assert highlight_spans(text, {"河流"}) == []
    assert [text[a:b] for a, b in highlight_spans(text, {"辽河", "禁渔"})] == ["辽河", "禁渔"]
    assert [text[a:b] for a, b in highlight_spans(text, {"流域"})] == ["流域"]


def test_latin_words_and_numbers_are_highlighted_whole():
    question = parse_question("What happened in 2019 to the cranes?")
    words = question_words(question)
    text = "In 20190 and in 2019 the crane count grew."
    assert [text[a:b] for a, b in highlight_spans(text, words)] == ["2019"]


def test_answer_span_candidates_are_slices_of_the_excerpt():
    text = "得胜村的村歌叫《放飞梦想》，由村民王海涛作词，全村共有860户。"
    found = {text[s.start : s.end] for s in candidates(text)}
    assert {"《放飞梦想》", "王海涛"} <= found
    assert any("860" in piece for piece in found)


def test_answer_hit_rule():
    excerpt = "禁渔期为每年5月16日至7月31日。"
    assert answer_hit(excerpt, (6, 17), ["5月16日至7月31日"])
    assert answer_hit(excerpt, (6, 11), ["5月16日至7月31日"])  # overlaps, shorter
    assert not answer_hit(excerpt, (0, 3), ["5月16日"])  # elsewhere
    assert not answer_hit(excerpt, (0, 18), ["5月"])  # overlaps but far longer than the answer
    assert not answer_hit(excerpt, None, ["5月16日"])


def test_marked_answers_on_the_shipped_corpus(answerer):
    """Every marked span lies inside its excerpt; the labelled questions' answers are marked."""
    cases = [c for c in load_jsonl_cases(QUESTIONS) if c.answers]
    hits = 0
    for case in cases:
        answer = answerer.answer(case.question, top_k=3)
        for hit in answer.hits:
            if hit.answer_span is not None:
                start, end = hit.answer_span
                assert 0 <= start < end <= len(hit.excerpt)
        first = answer.hits[0] if answer.hits else None
        hits += bool(first) and answer_hit(first.excerpt, first.answer_span, case.answers)
    assert hits / len(cases) >= 0.4
    answer = answerer.answer("辽河禁渔期是什么时候？")
    start, end = answer.hits[0].answer_span
    assert "5月16日" in answer.hits[0].excerpt[start:end]


def test_answer_span_in_json_console_and_telegram(answerer):
    out = io.StringIO()
    ask.run(answerer, None, 3, True, stdin=io.StringIO("辽河禁渔期是什么时候？\n"), stdout=out)
    hit = json.loads(out.getvalue())["hits"][0]
    assert hit["answer_span"] is None or (0 <= hit["answer_span"][0] < hit["answer_span"][1] <= len(hit["excerpt"]))
    answer = answerer.answer("辽河禁渔期是什么时候？")
    assert "〖" in render_answer(answer) and "\033[1;4;32m" in render_answer(answer, colour=True)
    html = answer_html(answer)
    assert "<b><u>" in html and html.count("<u>") == html.count("</u>")


def test_answer_wins_over_an_overlapping_term_and_markup_stays_balanced():
    hit = Hit("p", "a", "丹顶鹤有100余只", (0, 9), [(0, 3), (4, 7)], "丹顶鹤有100余只", "t", "", "", 1, "s",
              answer_span=(4, 9))
    assert hit.marks() == [(0, 3, "term"), (4, 9, "answer")]
    assert hit.marked(("[", "]"), ("{", "}")) == "[丹顶鹤]有{100余只}"
    line = hit.marked(("<b>", "</b>"), ("<b><u>", "</u></b>")) + "很" * 5000
    for chunk in split_message(line, limit=300):
        assert chunk.count("<u>") == chunk.count("</u>") and chunk.count("<b>") == chunk.count("</b>")


def test_labelled_answer_hit_is_reported(answerer):
    results = evaluate(answerer, load_jsonl_cases(QUESTIONS))
    assert results["answer_hit@1"] is not None and 0.4 <= results["answer_hit@1"] <= results["excerpt_hit@1"]
