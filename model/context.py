"""What a reader knows when reaching a sentence: its neighbours, the headline, and whose words it is in.

Why: in real coverage a sentence often names nobody ("2. All heavy weapons are handed
over.", "These measures are limited in nature.") and is a party's words or a party's
frame only because of the sentences before it: a quotation opened two sentences earlier,
"The statement reads:", a transcript speaker's turn. Annotators read in order; the model
reads each sentence with the context string built here as a second segment.

Why one builder: training (annotated articles), the service (``/score``, ``/classify``
with context) and batch scoring must give the model exactly the same context for the same
article, so all of them call :func:`article_contexts`.

Steps: :func:`reading_states` (a deterministic pass over the article that tracks open
quotations, relayed statements, numbered items and transcript speakers) ->
:func:`render_context` (state, headline and neighbours within a character budget, cut
from the far end, never the sentence itself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_WINDOW = 1  # sentences before and after; chosen on a held-out camp (README, "Reading each sentence")
MAX_CONTEXT_CHARS = 400  # ~90 MiniLM tokens; the sentence itself is never cut

_OPENERS = {"“": "”", "«": "»", "„": "“"}
_CLOSERS = {"”", "»"}
_ITEM_RE = re.compile(r"^\s*[\"“«„']?\s*(?:\(?\d{1,2}[.)]|\(?[a-h]\)|[-•–—]\s)")
_SPEAKER_RE = re.compile(
    r"^\s*((?:Q|A|Question|Answer|[A-Z][\w.'’-]+(?: [A-Z][\w.'’-]+| bin| de| von| al-\w+){0,3}))\s*:\s+(?=\S)"
)
_NOT_SPEAKERS = {"Note", "Update", "Updated", "Photo", "Source", "Related", "Read", "Editor", "Warning", "Watch"}


def context_settings(config: Mapping[str, Any]) -> tuple[int, int] | None:
    """(window, max characters) that a model's saved training config reads, or None for a sentence-only model."""
    if not config.get("context"):
        return None
    return int(config.get("context_window", DEFAULT_WINDOW)), int(config.get("context_chars", MAX_CONTEXT_CHARS))


@dataclass(frozen=True)
class ReadingState:
    """Deterministic facts about one sentence's place in its article."""

    in_quote: bool = False  # inside a quotation opened in an earlier sentence and not closed
    relayed: bool = False  # continues a "...said in a statement:" / "The statement reads:" block
    item: bool = False  # an item of a numbered or bulleted list
    speaker: str = ""  # the transcript speaker whose turn this sentence belongs to

    def words(self) -> str:
        parts = []
        if self.speaker:
            parts.append(f"speaker {self.speaker}")
        if self.in_quote:
            parts.append("inside quotation")
        if self.relayed:
            parts.append("relayed statement")
        if self.item:
            parts.append("list item")
        return ", ".join(parts)


def _quote_delta(text: str, open_now: bool) -> bool:
    """Whether a double quotation is open after ``text``, given whether one was open before it."""
    for ch in text:
        if ch in _OPENERS:
            open_now = True
        elif ch in _CLOSERS:
            open_now = False
        elif ch == '"':
            open_now = not open_now
    return open_now


def reading_states(text: str, spans: Sequence[tuple[int, int]]) -> list[ReadingState]:
    """One :class:`ReadingState` per sentence span of ``text``, computed in reading order.

    Paragraphs are the text between line breaks. A quotation that a paragraph leaves open
    continues into the next paragraph only if that paragraph opens with a quotation mark
    (the newspaper convention for quotations over several paragraphs) or is the next item of
    a quoted list ("1. ...", "2. ...", closed after the last item); a relayed statement
    continues while paragraphs open with a quotation mark or a list number; a transcript
    speaker continues until the next speaker label, once the article has two labels.
    """
    labels = [m.group(1) for s, _ in spans if (m := _SPEAKER_RE.match(text[s:])) and m.group(1) not in _NOT_SPEAKERS]
    transcript = len(labels) >= 2
    states: list[ReadingState] = []
    open_quote = relayed = False
    speaker = ""
    prev_end = None
    for start, end in spans:
        sentence = text[start:end]
        new_paragraph = prev_end is None or "\n" in text[prev_end:start]
        opens_with_quote = sentence.lstrip()[:1] in ('"', "“", "«", "„")
        is_item = bool(_ITEM_RE.match(sentence))
        if new_paragraph:
            if open_quote and not (opens_with_quote or is_item):
                open_quote = False  # an unclosed quotation ends with its paragraph, unless a quoted list goes on
            if relayed and not (opens_with_quote or is_item):
                relayed = False
        label = _SPEAKER_RE.match(sentence)
        if transcript and label and label.group(1) not in _NOT_SPEAKERS:
            speaker = label.group(1)
            open_quote = relayed = False
        states.append(ReadingState(in_quote=open_quote, relayed=relayed, item=is_item, speaker=speaker))
        open_quote = _quote_delta(sentence, open_quote)
        if sentence.rstrip().endswith(":") or re.search(r"\b(reads|read|stated|said|says)\s*:\s*[\"“«]?\s*$", sentence):
            relayed = True
        prev_end = end
    return states


def render_context(
    state: ReadingState,
    before: Sequence[str],
    after: Sequence[str],
    title: str | None = None,
    max_chars: int = MAX_CONTEXT_CHARS,
) -> str:
    """The context string: state, headline, neighbours; farthest parts are dropped first.

    ``before`` is in reading order (nearest last); ``after`` nearest first. Priority: state,
    nearest sentence before, nearest after, headline, then further neighbours alternately.
    A part that does not fit whole is cut at its far end (the start of an earlier sentence,
    the end of a later one).
    """
    pieces: list[tuple[str, str]] = []  # (slot, text) in priority order
    words = state.words()
    if words:
        pieces.append(("state", f"({words})"))
    far_before, far_after = list(reversed(before)), list(after)
    for k in range(max(len(far_before), len(far_after))):
        if k < len(far_before):
            pieces.append((f"b{k}", far_before[k]))
        if k < len(far_after):
            pieces.append((f"a{k}", far_after[k]))
        if k == 0 and title:
            pieces.append(("title", f"Headline: {title}."))
    kept: dict[str, str] = {}
    budget = max_chars
    for slot, piece in pieces:
        if budget <= 0:
            break
        if len(piece) + 1 > budget:
            piece = piece[-(budget - 1) :] if slot.startswith("b") else piece[: budget - 1]
            piece = piece.strip()
        if piece:
            kept[slot] = piece
            budget -= len(piece) + 1
    n_before = sum(1 for s in kept if s.startswith("b"))
    n_after = sum(1 for s in kept if s.startswith("a"))
    order = ["state", "title", *(f"b{k}" for k in reversed(range(n_before)))]
    out = [kept[s] for s in order if s in kept]
    if n_before:
        out.insert(len(out) - n_before, "Before:")
    if n_after:
        out += ["After:", *(kept[f"a{k}"] for k in range(n_after))]
    return " ".join(out)


def article_contexts(
    text: str,
    spans: Sequence[tuple[int, int]],
    cleans: Sequence[str],
    *,
    title: str | None = None,
    window: int = DEFAULT_WINDOW,
    max_chars: int = MAX_CONTEXT_CHARS,
) -> list[str]:
    """The context string of every sentence of one article.

    ``spans`` are the sentences' offsets into ``text``; ``cleans`` are the sentences as the model reads them.
    """
    from model.text import normalise

    states = reading_states(text, spans)
    title = normalise(title) if title else None
    if title and cleans and normalise(cleans[0]).casefold() == title.casefold():
        title = None  # the headline is already the first sentence
    return [
        render_context(
            states[i],
            cleans[max(0, i - window) : i],
            cleans[i + 1 : i + 1 + window],
            title if i else None,
            max_chars,
        )
        for i in range(len(cleans))
    ]
