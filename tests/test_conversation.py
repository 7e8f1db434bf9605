"""Follow-up questions: answered in the context of the previous one, and only when they lean on it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot import ask as ask_command
from bot.console import ConsoleSession
from bot.conversation import Conversation, Conversations, ask

FOLLOWUPS = Path(__file__).parent / "data" / "panjin_followups.jsonl"


def test_state_is_bounded_expires_and_resets():
    now = [0.0]
    store = Conversations(expires_after=60, capacity=2, clock=lambda: now[0])
    first = store.get("a")
    first.turns.extend(["t1", "t2", "t3", "t4"])
    assert list(first.turns) == ["t2", "t3", "t4"]  # the last few turns only
    assert store.get("a") is first
    store.get("b"), store.get("c")
    assert len(store) == 2 and store.get("a") is not first  # the least recently active went first
    now[0] = 61.0
    assert not store.get("c").turns  # expired
    store.reset("c")
    assert len(store) == 1


def test_elided_subject_follows_the_previous_question(answerer):
    talk = Conversation()
    ask(answerer, talk, "建设街道的党支部累计查摆了多少问题?")
    answer = ask(answerer, talk, "街道党工委书记是谁?")
    assert answer.follow_up == "党建引领 聚合振兴发展动力" and "赵文星" in answer.hits[0].excerpt
    assert "接上一问 / following up on: 党建引领" in ConsoleSession(answerer, colour=False).render(answer)

    other = Conversation()
    ask(answerer, other, "曙光街道为什么形成了露天的农副产品展示区?")
    assert "田雪峰" in ask(answerer, other, "街道党工委书记是谁?").hits[0].excerpt


@pytest.mark.parametrize("first, follow_up, expected", [
    ("得胜村的村歌叫什么?", "它的党史馆有多大?", "200平方米"),
    ("今年人工孵化了多少只丹顶鹤幼鸟?", "and how many eggs are still incubating?", "28枚"),
])
def test_pronouns_and_connectives_follow_up(answerer, first, follow_up, expected):
    talk = Conversation()
    ask(answerer, talk, first)
    answer = ask(answerer, talk, follow_up)
    assert answer.follow_up and expected in answer.hits[0].excerpt


def test_a_clear_new_question_starts_a_new_thread(answerer):
    talk = Conversation()
    ask(answerer, talk, "得胜村的村歌叫什么?")
    answer = ask(answerer, talk, "辽河流域禁渔期是什么时候?")
    assert not answer.follow_up and "5月16日至7月31日" in answer.hits[0].excerpt
    talk = Conversation()
    ask(answerer, talk, "建设街道的党支部累计查摆了多少问题?")
    answer = ask(answerer, talk, "曙光街道党工委书记是谁?")  # same kind of question, its own subject
    assert not answer.follow_up and "田雪峰" in answer.hits[0].excerpt


def test_ask_json_conversation_and_new(answerer):
    stdin = io.StringIO("建设街道的党支部累计查摆了多少问题?\n街道党工委书记是谁?\n/new\n街道党工委书记是谁?\n")
    out = io.StringIO()
    ask_command.run(answerer, None, None, True, stdin=stdin, stdout=out, conversation=True)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["follow_up"] is not None for a in answers] == [False, True, False]
    assert answers[1]["follow_up"]["article"] == "党建引领 聚合振兴发展动力" and answers[1]["follow_up"]["context"]
    assert "赵文星" in answers[1]["hits"][0]["excerpt"]


def test_console_new_starts_afresh(answerer):
    session = ConsoleSession(answerer, colour=False)
    session.handle("建设街道的党支部累计查摆了多少问题?")
    assert session.handle("/new").startswith("新的对话")
    assert "接上一问" not in session.handle("街道党工委书记是谁?")


@pytest.mark.slow
def test_labelled_followups_gain_from_context_and_new_threads_are_not_pulled_back(answerer):
    followed, alone_hits, context_hits, pulled_back, new_threads = 0, 0, 0, 0, 0
    for line in FOLLOWUPS.read_text(encoding="utf-8").splitlines():
        talk = Conversation()
        for position, turn in enumerate(json.loads(line)["turns"]):
            alone = answerer.answer(turn["q"])
            answer = ask(answerer, talk, turn["q"])
            if position == 0:
                continue
            if turn["follows"]:
                followed += 1
                alone_hits += any(g in h.excerpt for h in alone.hits[:1] for g in turn["a"])
                context_hits += any(g in h.excerpt for h in answer.hits[:1] for g in turn["a"])
            else:
                new_threads += 1
                pulled_back += bool(answer.follow_up)
    assert followed >= 40 and new_threads >= 10
    assert context_hits >= alone_hits + 3  # context answers follow-ups that the question alone misses
    assert pulled_back <= 1
