"""The context builder: reading states, rendering within budget, and one builder for every entry point."""

from __future__ import annotations

import pytest

from model.context import ReadingState, article_contexts, reading_states, render_context
from model.text import segment


def _states(text: str) -> list[tuple[str, ReadingState]]:
    sentences = segment(text)
    return [
        (s.clean, st)
        for s, st in zip(sentences, reading_states(text, [(s.start, s.end) for s in sentences]), strict=True)
    ]


def _spans(text: str, pieces: list[str]) -> list[tuple[int, int]]:
    spans, cursor = [], 0
    for piece in pieces:
        start = text.index(piece, cursor)
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    return spans


def test_quotation_opened_earlier_marks_following_sentences():
    pieces = [
        'Hajiyev told reporters: "These measures are limited in nature.',
        "They target only military sites.",
        'Civilians are safe."',
        "The road was open.",
    ]
    text = " ".join(pieces[:3]) + "\n" + pieces[3]
    states = reading_states(text, _spans(text, pieces))
    assert [st.in_quote for st in states] == [False, True, True, False]
    assert [st.words() for st in states][1] == "inside quotation"


def test_quotation_over_paragraphs_continues_only_when_the_paragraph_reopens_it():
    text = (
        '"We will not leave," she said. "This is our land.\n'
        '"Our grandparents are buried here.\n'
        "Officials did not respond."
    )
    states = [st for _, st in _states(text)]
    assert [st.in_quote for st in states] == [False, False, True, False]


def test_relayed_statement_and_numbered_items():
    text = (
        "The ministry said in a statement:\n"
        "1. Illegal armed formations lay down their arms.\n"
        "2. All heavy equipment is handed over.\n"
        "Residents queued for fuel."
    )
    states = [st for _, st in _states(text)]
    assert [st.relayed for st in states] == [False, True, True, False]
    assert [st.item for st in states] == [False, True, True, False]


def test_quotation_holding_a_numbered_list_continues_through_its_items():
    text = (
        'Baku set out its terms: "1. Illegal armed formations lay down their arms.\n'
        "2. All heavy equipment is handed over.\n"
        '3. The so-called regime dissolves itself."\n'
        "4. Residents queued for fuel.\n"
        "Residents queued for bread."
    )
    states = [st for _, st in _states(text)]
    assert [st.in_quote for st in states] == [False, False, True, True, False, False]
    assert [st.relayed for st in states] == [False, True, True, True, True, False]


def test_transcript_speaker_carries_over_unlabelled_sentences():
    text = "Question: Will the corridor stay open?\nMaria Zakharova: It is open. Nobody is stopping anyone.\n"
    states = [st for _, st in _states(text)]
    assert [st.speaker for st in states] == ["Question", "Maria Zakharova", "Maria Zakharova"]


def test_one_colon_label_is_not_a_transcript():
    states = [st for _, st in _states("AZERBAIJAN: Baku has launched an operation.\nIt said it would continue.")]
    assert all(st.speaker == "" for st in states)


def test_render_keeps_nearest_parts_and_cuts_far_end():
    state = ReadingState(in_quote=True)
    before = ["A far sentence about history that is quite long indeed.", "The ministry said:"]
    after = ["Next one.", "A far sentence after."]
    full = render_context(state, before, after, title="Headline here", max_chars=1000)
    assert full.startswith("(inside quotation) Headline: Headline here. Before: A far sentence")
    assert full.endswith("After: Next one. A far sentence after.")
    short = render_context(state, before, after, title="Headline here", max_chars=60)
    assert "The ministry said:" in short and "Next one." in short
    assert "history" not in short and "far sentence after" not in short
    assert len(short) <= 60 + len("Before: After: ")


def test_render_cuts_a_too_long_neighbour_from_its_far_end():
    previous = "word " * 50 + "NEAR-END."
    out = render_context(ReadingState(), [previous], [], max_chars=40)
    assert out.endswith("NEAR-END.") and len(out) < 60


@pytest.mark.parametrize("window", [0, 1, 2])
def test_article_contexts_one_per_sentence_and_window_respected(window):
    text = "One. Two. Three. Four. Five."
    sentences = segment(text)
    contexts = article_contexts(
        text, [(s.start, s.end) for s in sentences], [s.clean for s in sentences], window=window
    )
    assert len(contexts) == len(sentences) == 5
    middle = contexts[2]
    assert ("Two." in middle) == (window >= 1) and ("One." in middle) == (window >= 2)
    assert "Three." not in middle  # never the sentence itself


def test_headline_equal_to_first_sentence_is_not_repeated():
    text = "Baku launches operation\nTroops advanced."
    sentences = segment(text)
    contexts = article_contexts(
        text, [(s.start, s.end) for s in sentences], [s.clean for s in sentences], title="Baku launches operation"
    )
    assert all("Headline:" not in c for c in contexts)
