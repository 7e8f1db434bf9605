"""The reader's say in which window a hit shows (bot.reader_choice), on the shipped page."""

from __future__ import annotations

import json
import sys

import pytest

from bot import answering
from bot.answering import SECOND_OPINIONS
from bot.excerpt import Excerpt, ranked_excerpts, select_excerpts
from bot.question import parse_question
from bot.reader_choice import MEASURED_WINDOWS, READER_WEIGHT, WINDOWS, choose_windows
from embeddings.config import PROJECT_ROOT
from tests.conftest import QUESTIONS


def test_the_choice_adds_a_part_of_the_logit_to_the_rankers_score():
    first, second = Excerpt(0, 10, 1.0, 0.8), Excerpt(10, 20, 0.5, 0.7)
    close = 0.5 / READER_WEIGHT  # the logit lead that makes up the ranker's 0.5
    ahead, behind = {"reader": 2.0 + close + 0.1}, {"reader": 2.0}
    assert choose_windows([[first, second]], [[behind, ahead]]) == [(second, ahead)]
    assert choose_windows([[first, second]], [[behind, {"reader": 2.0 + close - 0.1}]])[0][0] == first
    # a tie keeps the ranker's order; which logit counts is the caller's (training: the honest one)
    assert choose_windows([[first, second]], [[behind, {"reader": 2.0 + close}]])[0][0] == first
    plain = {"reader": 2.0, "reader_0": 2.0, "reader_1": 2.0}
    honest = {"reader": 0.0, "reader_0": -5.0, "reader_1": 9.0}
    assert choose_windows([[first, second]], [[plain, honest]])[0][0] == first
    assert choose_windows([[first, second]], [[plain, honest]], lambda r: r["reader_1"])[0][0] == second
    # without readings (an encoder the reader was not fitted on), the ranker's first; one window, itself
    assert choose_windows([[first, second]], [[{}, {}]]) == [(first, {})]
    assert choose_windows([[second]], [[ahead]]) == [(second, ahead)]


def test_the_ranked_windows_start_with_the_one_select_excerpts_shows(answerer):
    question = parse_question("辽河禁渔期是什么时候？")
    answerer.retriever.translate(question, True)
    vector = answerer.encoder.encode_query(question.simplified)
    rows = [c.row for c in answerer.retriever.search(question, vector, limit=5).candidates]
    passages = [(answerer.index.passage(r), answerer.index.sentence_vectors_of(r), answerer.retriever.sentence_terms(r))
                for r in rows]
    weights, ranker = answerer.retriever.weights, answerer.ranker
    ranked = ranked_excerpts(passages, vector, question, weights, ranker, MEASURED_WINDOWS)
    assert [r[0] for r in ranked] == select_excerpts(passages, vector, question, weights, ranker)
    assert all(1 <= len(r) <= MEASURED_WINDOWS and r == sorted(r, key=lambda e: -e.score) for r in ranked)
    assert any(len(r) == MEASURED_WINDOWS for r in ranked)


@pytest.mark.parametrize("windows", sorted({WINDOWS, MEASURED_WINDOWS}))
def test_each_hit_is_judged_by_the_reading_of_the_window_it_shows(answerer, monkeypatch, windows):
    """The reading the confidence weighs belongs to the excerpt shown, whichever window won. With one
    window (the shipped setting) that is the ranker's; with the measured two, the reader moves some
    hits of the page's questions off the ranker's first window."""
    monkeypatch.setattr(answering, "WINDOWS", windows)
    cases = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()][:30]
    moved = 0
    for case in cases:
        question = parse_question(case["q"])
        answerer.retriever.translate(question, True)
        vector = answerer.encoder.encode_query(question.simplified)
        candidates = answerer.retriever.search(question, vector, limit=5).candidates[:SECOND_OPINIONS]
        hits, readings = answerer._hits(candidates, question, question, vector)
        assert len(readings) == len(hits) == len(candidates)
        passages = [(answerer.index.passage(c.row), answerer.index.sentence_vectors_of(c.row),
                     answerer.retriever.sentence_terms(c.row)) for c in candidates]
        ranked = ranked_excerpts(passages, vector, question, answerer.retriever.weights, answerer.ranker, windows)
        texts = [p.text[e.start : e.end] for (p, _, _), windows in zip(passages, ranked) for e in windows]
        # read as _hits reads them, in one batch (int8 activations are scaled per batch)
        read = dict(zip(texts, answerer.reader.read(answerer.encoder, question.simplified, texts)))
        assert [r["reader"] for r in readings] == pytest.approx([read[h.excerpt]["reader"] for h in hits], abs=1e-5)
        shown = select_excerpts(passages, vector, question, answerer.retriever.weights, answerer.ranker)
        moved += sum(h.excerpt_span != (e.start, e.end) for h, e in zip(hits, shown))
    assert moved >= 1 if windows > 1 else moved == 0


def test_a_confidence_cache_gathered_with_other_windows_is_not_reused(tmp_path, monkeypatch):
    """``bench/train_confidence.py --reuse``: rows read with another number of windows than the bot
    reads would fit the confidence to readings the bot never makes."""
    sys.path.insert(0, str(PROJECT_ROOT / "bench"))
    import train_confidence

    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path))
    (tmp_path / "eval").mkdir()
    cache = tmp_path / "eval" / "confidence-features-xquad_dev_en.jsonl"
    row = {"file": "xquad_dev_en", "reader_weights": train_confidence.reader_weights()}
    cache.write_text(json.dumps({**row, "reader_windows": MEASURED_WINDOWS}) + "\n", encoding="utf-8")
    monkeypatch.setattr(answering, "WINDOWS", 1)
    with pytest.raises(SystemExit, match="windows per hit"):
        train_confidence.gather(tmp_path, None, ["xquad_dev_en"], reuse=True)
    monkeypatch.setattr(answering, "WINDOWS", MEASURED_WINDOWS)
    assert train_confidence.gather(tmp_path, None, ["xquad_dev_en"], reuse=True)[0]["reader_windows"] == MEASURED_WINDOWS
    cache.write_text(json.dumps(row) + "\n", encoding="utf-8")  # from before the stamp: one window
    with pytest.raises(SystemExit, match="windows per hit"):
        train_confidence.gather(tmp_path, None, ["xquad_dev_en"], reuse=True)
    monkeypatch.setattr(answering, "WINDOWS", 1)
    assert train_confidence.gather(tmp_path, None, ["xquad_dev_en"], reuse=True) == [row]
