"""Request and response models for the HTTP API, with the limits they enforce.

Why limits live in the types: pydantic rejects a bad request before any model work, and
its error names the field (``loc``) and the limit, which is what a client needs to fix
the call. Limits are read from the environment so an operator can tune them.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

from model.text import has_control_characters


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer") from None


MAX_SENTENCES = _env_int("FRAMING_MAX_SENTENCES", 512)
MAX_SENTENCE_CHARS = _env_int("FRAMING_MAX_SENTENCE_CHARS", 5_000)
MAX_ARTICLES = _env_int("FRAMING_MAX_ARTICLES", 64)
MAX_TEXT_CHARS = _env_int("FRAMING_MAX_TEXT_CHARS", 100_000)
MAX_BODY_BYTES = _env_int("FRAMING_MAX_BODY_BYTES", 2_000_000)

SAMPLE_SENTENCES = [
    "Azerbaijan launched what it termed local anti-terrorist measures to restore constitutional order.",
    "Armenia accused Baku of a large-scale aggression aimed at the ethnic cleansing of Karabakh Armenians.",
    "The EU urged an immediate ceasefire and a return to talks.",
]
SAMPLE_ARTICLE = {
    "source": "example-wire",
    "title": "Azerbaijan launches operation in Nagorno-Karabakh",
    "text": (
        "Azerbaijan launched what it termed local anti-terrorist measures on Tuesday. "
        "Karabakh officials said Stepanakert was under heavy shelling.\n"
        "The UN Secretary-General called for an immediate cessation of hostilities."
    ),
    "published": "2023-09-19",
}


def _clean_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain text, not only whitespace")
    if has_control_characters(value):
        raise ValueError("contains control characters (e.g. NUL); send plain text")
    return value


Sentence = Annotated[str, Field(min_length=1, max_length=MAX_SENTENCE_CHARS), AfterValidator(_clean_text)]


def _clean_context(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("contains control characters (e.g. NUL); send plain text")
    return value


class SentenceWithContext(BaseModel):
    """A sentence with what a reader has beside it: the model reads both (``model.context``)."""

    model_config = {"extra": "forbid"}

    text: Sentence = Field(description="The sentence to label.")
    context: Annotated[str, Field(max_length=MAX_SENTENCE_CHARS), AfterValidator(_clean_context)] = Field(
        "",
        description=(
            "Free text around the sentence: the sentences before and after it, the headline, who is speaking "
            "(e.g. 'Before: The ministry said in a statement: After: 3. ...'). A context-reading model uses it; "
            f"too long for the model, it is cut from its end, never the sentence. At most {MAX_SENTENCE_CHARS} "
            "characters."
        ),
    )


SAMPLE_CONTEXT_ITEM = {
    "text": "2. All heavy weapons and ammunition are handed over.",
    "context": "(relayed statement, list item) Before: The ministry's statement reads: "
    "1. Illegal armed formations lay down their arms.",
}
ArticleText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_clean_text)]
SourceName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_text)]


class Article(BaseModel):
    source: SourceName = Field(description="Outlet or source name: articles are profiled per source.")
    text: ArticleText = Field(description=f"Article body, at most {MAX_TEXT_CHARS} characters.")
    title: Annotated[str, Field(max_length=1_000)] | None = None
    url: Annotated[str, Field(max_length=2_000)] | None = None
    published: date | None = None


class SentenceLabels(BaseModel):
    frame: str
    frame_scores: dict[str, float]
    attribution: str
    attribution_scores: dict[str, float]


class ScoredSentence(SentenceLabels):
    article: int = Field(description="Index of the article in the request.")
    sentence_index: int
    start: int = Field(description="Character offset into that article's text.")
    end: int
    text: str


class ArticleSummary(BaseModel):
    article: int
    source: str
    title: str | None = None
    url: str | None = None
    published: date | None = None
    n_sentences: int
    non_english: bool
    language_note: str | None = None


class ScoreResponse(BaseModel):
    model: str
    sentences: list[ScoredSentence]
    articles: list[ArticleSummary]
    sources: dict[str, dict[str, Any]]
    warnings: list[str] = []
