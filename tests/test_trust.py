"""Answer only what the articles answer: learned confidence, English questions, odd input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import ask
from bot.answer import LOW_CONFIDENCE, Answer, confidence_note
from bot.answering import Answerer
from bot.confidence import MODEL_PATH, ConfidenceModel, ConfidenceModelError, preferred
from bot.config import AnswerSettings, SettingError
from bot.evaluate import Case, evaluate, refusal_cases
from bot.question import parse_question
from bot.translation import EnglishChinese
from embeddings.config import PROJECT_ROOT
from tests.conftest import QUESTIONS


@pytest.fixture(scope="module")
def dictionary(tmp_path_factory):
    return EnglishChinese(tmp_path_factory.mktemp("cedict"))


def test_dictionary_phrases_first_names_by_pinyin_and_no_question_words(dictionary):
    found = {t.english: t.chinese for t in dictionary.translate("How many red-crowned cranes hatched in Panjin?")}
    assert "丹顶鹤" in found["red-crowned cranes"]  # the phrase, not "red" + "cranes"
    assert "盘锦" in found["Panjin"]  # a romanised name, read by its pinyin
    assert "孵" in found["hatched"]  # an inflected form finds its base word
    assert not any(word in found for word in ("how", "how many", "many", "in"))
    # romanised names keep their syllables: "Liao" is not li + ao
    assert "李翱" not in dictionary.names("Liao") and dictionary.names("Ping'an")


def test_dictionary_is_cached_after_the_first_parse(tmp_path):
    (tmp_path / "cedict-1-2.pickle").write_bytes(b"a cache of a dictionary file since replaced")
    EnglishChinese(tmp_path)
    assert len(list(tmp_path.glob("cedict-*.pickle"))) == 1  # the stale one is gone
    again = EnglishChinese(tmp_path)
    assert "丹顶鹤" in again.lookup("red-crowned crane")


def test_translations_keep_only_words_the_corpus_has(dictionary):
    found = dictionary.translate("When is the fishing ban on the river?", known=lambda word: word == "禁止")
    assert [t.chinese for t in found] == [("禁止",)] and found[0].weight == 1.0


def test_irregular_and_possessive_forms_find_their_base_word(dictionary):
    assert "建成" in dictionary.lookup("built") and "卖出" in dictionary.lookup("sold")  # LemmInflect
    assert "繁殖" in dictionary.lookup("bred") and "村" in dictionary.lookup("village's")
    assert not dictionary.lookup("what's") and not dictionary.lookup("it's")  # not "what" → 什么


def test_words_without_a_dictionary_phrase_are_compounded_as_the_corpus_writes_them(dictionary):
    corpus = "据介绍,盘锦市共有3410个基层党组织,其中村党组织284个。得胜村建成了村党史馆。辽河禁渔期开始。"

    def known(word: str) -> bool:
        return word in corpus

    found = {t.english: t.chinese for t in dictionary.translate(
        "How many village party organizations are there? Desheng village's party history; the Liao River", known
    )}
    assert found["village party organizations"] == ("村党组织",)  # 村 + 党 + 组织: no phrase in CC-CEDICT
    assert found["Desheng village's"] == ("得胜村",)  # a name's pinyin, then a noun; the possessive ends it
    assert found["party history"] == ("党史",)
    assert found["Liao River"] == ("辽河",)  # a one-syllable name character (辽 [Liao2]) only inside a compound
    assert "Liao" not in found and not dictionary.translate("the Liao", known)
    # a compound the corpus does not hold is never made up: the words go their own way
    assert "party organizations" not in {t.english for t in dictionary.translate("party organizations", lambda w: False)}


def test_weighted_bm25_scores_match_bm25s(answerer):
    """Our reader of bm25s's files (the bot does not import bm25s) scores as bm25s itself does."""
    import bm25s

    index = answerer.index
    reference = bm25s.BM25.load(str(index.path / "bm25"), mmap=True, show_progress=False)
    terms = parse_question("辽河禁渔期是什么时候？").terms
    known = [t for t in terms if t in reference.vocab_dict]
    assert known and all(index.bm25.column(t) for t in known)
    expected = np.asarray(reference.get_scores(known), dtype=np.float32)
    assert np.allclose(index.bm25_scores(terms), expected, atol=1e-5)
    halved = index.bm25_scores(dict.fromkeys(terms, 0.5))
    assert np.allclose(halved, expected / 2, atol=1e-5)


def test_every_answer_carries_a_confidence(answerer):
    answer = answerer.answer("辽河禁渔期是什么时候？")
    assert not answer.not_found and 0.0 <= answer.confidence <= 1.0
    assert answer.to_json()["confidence"] == round(answer.confidence, 4)
    refused = answerer.answer("北京的天气怎么样？")
    assert refused.not_found and refused.confidence < answerer.min_confidence
    assert refused.suggestions  # "not found" still points at the closest articles


@pytest.mark.parametrize("question", [
    "Who is the governor of Liaoning?",
    "What is the population of Shenyang?",
    "盘锦的邮政编码是多少?",
    "上海今年的房价涨了多少?",
    "What is the population of 沈阳?",
])
def test_questions_the_articles_do_not_answer_are_refused(answerer, question):
    assert answerer.answer(question).not_found


@pytest.mark.parametrize("question, expected", [
    ("When is the fishing ban on the Liao River?", "5月16日至7月31日"),
    ("What do the keepers feed the baby cranes?", "面包虫"),
    ("丹頂鶴孵化了幾隻？", "丹顶鹤"),  # traditional characters, as typed in Hong Kong or Taiwan
    ("辽河的 fishing ban 是什么时候？", "5月16日至7月31日"),  # mixed languages
    ("what is the 得胜村 village song called?", "放飞梦想"),  # English, naming the village in Chinese
])
def test_english_traditional_and_mixed_questions_are_answered(answerer, question, expected):
    answer = answerer.answer(question)
    assert not answer.not_found and expected in answer.hits[0].passage


def test_a_mixed_question_is_in_the_language_most_of_its_words_are_written_in():
    english = parse_question("what is the 得胜村 village song called?")
    assert english.script == "latin" and english.mixed_english
    for chinese in ("辽河的 fishing ban 是什么时候？", "《This Is Where I Came In》是Bee Gees的第几张原创专辑？", "丹顶鹤"):
        question = parse_question(chinese)
        assert question.script == "cjk" and not question.mixed_english, chinese
    assert not parse_question("When is the fishing ban?").mixed_english
    # a Chinese question writing a common word in English, not a name or brand kept in Latin letters
    assert parse_question("辽河的 fishing ban 是什么时候？").mixed_chinese
    assert not parse_question("Sky+HD使用的专有系统是什么？").mixed_chinese
    assert not english.mixed_chinese


def test_mixed_questions_are_made_from_xquads_parallel_questions(dictionary):
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    from mixed_questions import mixed_chinese_question, mixed_question

    # a name first (its pinyin reads as the Chinese twin's word), then the longest word
    assert mixed_question("Who did Tesla partner with in 1886?", "1886年特斯拉与谁合作?", dictionary) == (
        "Who did 特斯拉 partner with in 1886?")
    assert mixed_question("How many red-crowned cranes hatched?", "孵化了多少只丹顶鹤?", dictionary) == (
        "How many 丹顶鹤 hatched?")
    assert mixed_question("What is it?", "这是什么?", dictionary) is None  # question words stay English
    # the other way round: the Chinese question writes that word in English
    assert mixed_chinese_question("Who did Tesla partner with in 1886?", "1886年特斯拉与谁合作?", dictionary) == (
        "1886年 Tesla 与谁合作?")


def test_a_mixed_question_is_calibrated_apart(answerer):
    """The model read an English question's Chinese words as rare, strong lexical evidence and was
    far too sure; its own scaling (bench/train_confidence.py) lowers it."""
    model = answerer.confidence
    answer = answerer.answer("what is the 得胜村 village song called?")
    assert answer.evidence.mixed == "english" and model.settings["mixed_offset"] < 0
    assert answer.confidence == pytest.approx(model.probability(answer.evidence))
    assert answer.confidence < model.probability(answer.evidence.values)  # the uncalibrated reading
    # the other way round the model was too unsure: the English word reads as one never written
    chinese = answerer.answer("辽河的 fishing ban 是什么时候？")
    assert chinese.evidence.mixed == "chinese"
    assert chinese.confidence > model.probability(chinese.evidence.values)


def test_english_question_terms_are_translated_and_highlighted(answerer):
    answer = answerer.answer("When is the fishing ban on the Liao River?")
    question = parse_question("When is the fishing ban on the Liao River?")
    answerer.retriever.translate(question, corpus_is_cjk=True)
    assert question.translated and all(0 < w <= 1 for w in question.translated.values())
    marked = "".join(answer.hits[0].excerpt[a:b] for a, b in answer.hits[0].highlights)
    assert any("\u4e00" <= c <= "\u9fff" for c in marked)  # Chinese words of the English question


@pytest.mark.parametrize("question", ["what?", "什么？", "Who?", "是谁", "'s 's ' ’", "What's?"])
def test_a_question_of_question_words_only_says_what_is_missing(answerer, question):
    answer = answerer.answer(question)
    assert answer.not_found and "question words" in answer.problem


@pytest.mark.parametrize("question", [
    "liaohe jinyuqi shi shenme shihou",  # pinyin
    "Когда запрет на рыбалку на реке Ляохэ?",  # a third language
    "¿Cuándo es la veda de pesca?",
    "丹顶鹤 🦩 <script>alert(1)</script> when?",
])
def test_other_languages_and_scripts_never_crash(answerer, question):
    answer = answerer.answer(question)
    assert answer.not_found or (answer.hits and 0 <= answer.confidence <= 1)
    assert answer.not_found == (not answer.hits)


@pytest.mark.parametrize("question", [
    "Как испечь хлеб?",  # how do I bake bread: the confidence, never fitted on Cyrillic, said 0.95
    "Сколько птенцов журавля вылупилось в этом году?",
    "올해 두루미 새끼 몇 마리가 부화했나요?",
])
def test_a_question_in_another_script_is_not_quoted_but_pointed_to_the_closest_articles(answerer, question):
    from bot.render_text import render_answer
    from bot.telegram_render import answer_html

    answer = answerer.answer(question)
    assert answer.not_found and not answer.hits and "Chinese or English" in answer.problem
    assert answer.suggestions  # the encoder is multilingual: the closest articles by meaning
    for shown in (render_answer(answer), answer_html(answer)):
        assert "Chinese or English" in shown and answer.suggestions[0] in shown
    if "журавля" in question or "두루미" in question:  # cranes
        assert "丹顶鹤" in " ".join(answer.suggestions)


def test_the_confidence_reads_which_words_of_the_question_the_passage_never_writes(answerer):
    def evidence(question: str) -> dict[str, float]:
        return answerer.answer(question).evidence.values

    assert evidence("得胜村的村歌叫什么?")["missing_words"] == 0.0
    named = evidence("得胜村的三花酒叫什么名字?")  # 三花酒 is written nowhere in the articles
    assert named["missing_words"] > 0.0 and named["rarest_word_missing"] == 1.0
    # English words count as written through their dictionary senses: fishing as 渔, ban as 禁止
    assert evidence("辽河的 fishing ban 是什么时候？")["missing_words"] == 0.0
    assert evidence("How do I bake bread?")["missing_words"] > 0.0  # bake: 烤, 烘焙… nowhere


def test_the_confidence_reads_how_closely_the_excerpt_matches_the_question_word_by_word(answerer):
    from bot.alignment import asked_rows

    tokens = answerer.encoder.question_tokens("盘锦的邮政编码是多少？")
    assert [tokens.pieces[i] for i in asked_rows(tokens)] == ["盘", "锦", "邮", "政", "编", "码"]

    # the fused ranking's first excerpt (no second opinion: that would pick the best aligned of three)
    first_only = Answerer(answerer.index, answerer.encoder, AnswerSettings(), confidence=None)

    def aligned(question: str) -> dict[str, float]:
        return first_only.answer(question).evidence.values

    asked_about, elsewhere = aligned("辽河禁渔期是什么时候？"), aligned("熊猫每天吃多少竹子？")
    for name in ("align_mean", "align_min", "align_q25"):
        assert 0 < elsewhere[name] < asked_about[name] <= 1, name
    # across languages too, if less sharply: an English question's words find their Chinese partners
    assert aligned("How do I make a cup of coffee?")["align_mean"] < aligned(
        "When is the fishing ban on the Liao River?")["align_mean"]


def test_an_unrelated_english_question_is_less_confident_than_a_related_one(answerer):
    related = answerer.answer("When is the fishing ban on the Liao River?")
    unrelated = answerer.answer("How do I make a cup of coffee?")
    assert unrelated.confidence < related.confidence


def test_the_hit_the_confidence_trusts_most_comes_first_when_it_is_clearly_ahead():
    assert preferred([0.3, 0.5, 0.2], margin=0.1) == 1
    assert preferred([0.3, 0.35, 0.2], margin=0.1) == 0  # ahead, but not by the margin
    assert preferred([0.3, 0.9, 0.95], margin=0.1) == 2
    assert preferred([0.3, 0.9], margin=1.0) == 0  # a margin of 1: the fused order always stays
    assert preferred([], margin=0.0) == 0


def test_the_second_opinion_replays_exactly_what_the_training_rows_record(answerer):
    """The answer puts first the hit that the training rows' alternatives (each hit's evidence as
    if it had come first, bench/train_confidence.py) say the model trusts most, with its confidence."""
    recorder = Answerer(answerer.index, answerer.encoder, AnswerSettings(), confidence=None)
    model = answerer.confidence
    assert 0 <= model.prefer_margin < 1  # the shipped model asks for a second opinion
    moved = 0
    for case in [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]:
        recorded = recorder.answer(case["q"])
        if not recorded.hits:
            continue
        assert len(recorded.alternatives) == len(recorded.hits) - 1
        confidences = [model.probability(e) for e in [recorded.evidence, *recorded.alternatives]]
        chosen = preferred(confidences, model.prefer_margin)
        saved, answerer.min_confidence = answerer.min_confidence, 0.0
        try:
            answer = answerer.answer(case["q"])
        finally:
            answerer.min_confidence = saved
        assert answer.hits[0].passage_id == recorded.hits[chosen].passage_id
        assert answer.confidence == pytest.approx(confidences[chosen])
        assert sorted(h.passage_id for h in answer.hits) == sorted(h.passage_id for h in recorded.hits)
        moved += chosen > 0
    assert moved >= 1  # on the Panjin questions some answer comes from a later hit


def test_low_confidence_gets_a_discreet_note():
    shown = Answer("q", hits=[], not_found=False, elapsed_ms=1.0, confidence=LOW_CONFIDENCE - 0.1)
    assert "low confidence" in confidence_note(shown)
    assert confidence_note(Answer("q", [], False, 1.0, confidence=0.9)) == ""
    assert confidence_note(Answer("q", [], True, 1.0, confidence=0.1)) == ""


def test_min_confidence_setting(monkeypatch):
    monkeypatch.setenv("MIN_CONFIDENCE", "0.7")
    assert AnswerSettings.from_env().min_confidence == 0.7
    monkeypatch.setenv("MIN_CONFIDENCE", "1.5")
    with pytest.raises(SettingError, match="MIN_CONFIDENCE"):
        AnswerSettings.from_env()


def test_min_confidence_moves_the_operating_point(answerer):
    saved = answerer.min_confidence
    try:
        answerer.min_confidence = 1.0
        assert answerer.answer("辽河禁渔期是什么时候？").not_found
        answerer.min_confidence = 0.0
        assert not answerer.answer("What is the price of gold today?").not_found
    finally:
        answerer.min_confidence = saved


def test_the_model_file_is_small_and_documents_its_held_out_figures():
    model = ConfidenceModel.load()
    assert MODEL_PATH.stat().st_size < 20_000
    assert 0 < model.min_confidence < 1 and "held_out_figures" in model.about
    assert "cmrc2018_trial" in json.dumps(model.about)


@pytest.mark.parametrize("content", [None, "{not json", '{"features": ["a"], "mean": [0, 1]}'])
def test_a_missing_or_damaged_model_file_names_itself(tmp_path, content):
    path = tmp_path / "confidence.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfidenceModelError, match="confidence.json"):
        ConfidenceModel.load(path)


def test_eval_reports_refusals_and_the_trade_off(answerer):
    cases = [Case("辽河禁渔期是什么时候？", ["5月16日"]), Case("北京的天气怎么样？", [])]
    results = evaluate(answerer, cases)
    assert results["answerable_answered"] == 1.0 and results["unanswerable_refused"] == 1.0
    assert results["confident_wrong"] == 0.0
    assert set(results["trade_off"]) == {f"{c / 10:.1f}" for c in range(1, 10)}
    assert results["trade_off"]["0.1"]["answered"] >= results["trade_off"]["0.9"]["answered"]


def test_eval_lists_the_quotations_shown_without_the_answer(answerer):
    """At a cut of 0 every question is answered: the off-topic ones are listed, verbatim and most
    confident first; the right answer is not."""
    cases = [Case("辽河禁渔期是什么时候？", ["5月16日"]), Case("北京的天气怎么样？", []),
             Case("How do I bake bread?", []), Case("盘锦市共有多少个基层党组织？", ["9999个"])]
    wrong = evaluate(answerer, cases, cut=0.0, show_wrong=10)["wrong_quotes"]
    assert {w["question"] for w in wrong} == {"北京的天气怎么样？", "How do I bake bread?", "盘锦市共有多少个基层党组织？"}
    assert [w["confidence"] for w in wrong] == sorted((w["confidence"] for w in wrong), reverse=True)
    texts = {p.text for p in answerer.index.passages}
    assert all(w["quote"] and any(w["quote"] in t for t in texts) and w["article"] for w in wrong)
    assert [(w["answers"], w["answerable"]) for w in wrong if w["question"].startswith("盘锦")] == [(["9999个"], True)]
    assert all(not w["answerable"] for w in wrong if not w["question"].startswith("盘锦"))
    assert len(evaluate(answerer, cases, cut=0.0, show_wrong=1)["wrong_quotes"]) == 1
    assert "wrong_quotes" not in evaluate(answerer, cases)


def test_refusal_protocol_keeps_every_other_context():
    cases = [Case("a", ["x"], "c1"), Case("b", ["y"], "c2"), Case("c", ["z"], "c3")]
    removed, marked = refusal_cases(cases, ["c1", "c2", "c3"])
    assert removed == {"c2"} and [c.indexed for c in marked] == [True, False, True]
    assert [c.answerable for c in marked] == [True, False, True]


def _mini_squad(folder: Path) -> Path:
    """A SQuAD file of the shipped page's paragraphs, with a question or two about each."""
    from embeddings.corpus import parse_corpus

    passages = parse_corpus(PROJECT_ROOT / "corpus").passages
    chosen = [p for p in passages if "禁渔期" in p.text or "3410" in p.text or "丹顶鹤" in p.text][:4]
    questions = {"禁渔期": "辽河禁渔期是什么时候？", "3410": "盘锦市共有多少个基层党组织？", "丹顶鹤": "人工孵化的是什么鸟？"}
    data = {"data": [{"title": p.title, "paragraphs": [{"id": f"p{i}", "context": p.text, "qas": [
        {"question": q, "answers": [{"text": key}]} for key, q in questions.items() if key in p.text
    ]}]} for i, p in enumerate(chosen)]}
    squad = folder / "mini.json"
    squad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return squad


def _eval_json(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "eval", *args, "--json"],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_eval_refusal_command_on_a_squad_file(tmp_path):
    """The refusal protocol end to end: a SQuAD file of the shipped page's paragraphs."""
    figures = _eval_json(str(_mini_squad(tmp_path)), "--refusal")
    assert figures["questions"] >= 3
    assert figures["unanswerable_refused"] is not None and figures["answerable_answered"] is not None
    assert "trade_off" in figures


def test_refusal_inside_an_archive_keeps_the_unrelated_articles_and_drops_the_removed_contexts(tmp_path):
    """Both protocols at once: the removed contexts' questions also meet an archive's articles."""
    from bot.evaluate import prepare_refusal
    from embeddings.index_store import load_index

    squad = _mini_squad(tmp_path)
    archive = tmp_path / "archive.jsonl"
    archive.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in [
        {"title": "北京迎来降雨降温", "text": "今天北方多地出现降雨降温天气，北京最高气温16度。", "date": "2018-05-01"},
        {"title": "全球官方黄金储备", "text": "世界黄金协会今天最新数据显示，全球官方黄金储备共计33700吨。", "date": "2018-02-01"},
    ]), encoding="utf-8")
    refusal_dir, cases = prepare_refusal(squad, progress=False, distractors=archive)
    passages = load_index(refusal_dir).passages
    urls = {p.url for p in passages}
    removed = {c.context for c in cases if not c.indexed}
    assert removed and not removed & urls
    assert {c.context for c in cases if c.indexed} <= urls
    assert {"北京迎来降雨降温", "全球官方黄金储备"} <= {p.title for p in passages}

    figures = _eval_json(str(squad), "--refusal", "--distractors", str(archive))
    assert figures["questions"] == len(cases) and figures["unanswerable_refused"] is not None


def test_ask_json_has_confidence(answerer):
    out = io.StringIO()
    ask.run(answerer, None, 1, True, stdin=io.StringIO("辽河禁渔期是什么时候？\n"), stdout=out)
    assert 0 <= json.loads(out.getvalue())["confidence"] <= 1


def test_console_and_telegram_show_the_low_confidence_line(answerer):
    from bot.render_text import render_answer
    from bot.telegram_render import answer_html

    answer = answerer.answer("辽河禁渔期是什么时候？")
    answer.confidence = LOW_CONFIDENCE / 2
    assert "low confidence" in render_answer(answer)
    assert "<i>" in answer_html(answer).splitlines()[-1] and "low confidence" in answer_html(answer)
    answer.confidence = 0.99
    assert "low confidence" not in render_answer(answer) + answer_html(answer)
