"""Request and response models for the HTTP API, with the limits they enforce.

Why limits live in the types: pydantic rejects a bad request before any model work, and
its error names the field (``loc``) and the limit, which is what a client needs to fix
the call. Limits are read from the environment so an operator can tune them.
"""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from model.text import has_control_characters


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be an integer") from None


MAX_SENTENCES = env_int("FRAMING_MAX_SENTENCES", 512)
MAX_SENTENCE_CHARS = env_int("FRAMING_MAX_SENTENCE_CHARS", 5_000)
MAX_ARTICLES = env_int("FRAMING_MAX_ARTICLES", 64)
MAX_TEXT_CHARS = env_int("FRAMING_MAX_TEXT_CHARS", 100_000)
MAX_BODY_BYTES = env_int("FRAMING_MAX_BODY_BYTES", 2_000_000)
MAX_HTML_CHARS = env_int("FRAMING_MAX_HTML_CHARS", 1_000_000)

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


# The request models' patterns, published in the OpenAPI document and enforced by the validators
# below with these very expressions (Python ``re``), so the document and the server never disagree.
# Control characters: C0 except tab and newlines, and DEL (``model.text.has_control_characters``).
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
PLAIN_TEXT = rf"^[^{_CONTROL}]*$"
NON_BLANK_TEXT = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_NON_BLANK_RE = re.compile(NON_BLANK_TEXT)
_ISO_DATE_RE = re.compile(ISO_DATE)


def _clean_text(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("contains control characters (e.g. NUL); send plain text")
    if not _NON_BLANK_RE.search(value):
        raise ValueError("must contain text, not only whitespace")
    return value


def _text(max_length: int, min_length: int = 1) -> Any:
    """A non-blank plain-text field: limits and pattern in the schema, enforced by ``_clean_text``."""
    return Annotated[
        str,
        Field(min_length=min_length, max_length=max_length, json_schema_extra={"pattern": NON_BLANK_TEXT}),
        AfterValidator(_clean_text),
    ]


Sentence = _text(MAX_SENTENCE_CHARS)


def _clean_context(value: str) -> str:
    if has_control_characters(value):
        raise ValueError("contains control characters (e.g. NUL); send plain text")
    return value


def _iso_date(value: str) -> str:
    """A real calendar date as YYYY-MM-DD, kept as the string (it travels to outputs as written)."""
    try:
        if _ISO_DATE_RE.search(value):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise ValueError(f"must be a calendar date as YYYY-MM-DD (e.g. 2023-09-19), got {value[:40]!r}")


IsoDate = Annotated[
    str,
    Field(json_schema_extra={"pattern": ISO_DATE, "format": "date"}, description="Publication date, YYYY-MM-DD."),
    AfterValidator(_iso_date),
]


class SentenceWithContext(BaseModel):
    """A sentence with what a reader has beside it: the model reads both (``model.context``)."""

    model_config = {"extra": "forbid"}

    text: Sentence = Field(description="The sentence to label.")
    context: Annotated[
        str,
        Field(max_length=MAX_SENTENCE_CHARS, json_schema_extra={"pattern": PLAIN_TEXT}),
        AfterValidator(_clean_context),
    ] = Field(
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
ArticleText = _text(MAX_TEXT_CHARS)
HtmlPage = _text(MAX_HTML_CHARS)
SourceName = _text(200)


class Article(BaseModel):
    """An article as its text, or as the web page it was saved from (``html``): one of the two."""

    # Exactly one of text / html: said in the schema (oneOf) and checked by the validator below.
    model_config = {"json_schema_extra": {"oneOf": [{"required": ["text"]}, {"required": ["html"]}]}}

    source: SourceName = Field(description="Outlet or source name: articles are profiled per source.")
    text: ArticleText = Field(  # type: ignore[assignment]
        None, description=f"Article body, at most {MAX_TEXT_CHARS} characters. Give this or 'html'."
    )
    html: HtmlPage = Field(  # type: ignore[assignment]
        None,
        description=(
            "The article's web page instead of its text: the main text, title, date and URL are extracted "
            "(trafilatura); sentence offsets then refer to the extracted text, returned as the article's "
            f"'extracted_text'. At most {MAX_HTML_CHARS} characters."
        ),
    )
    title: Annotated[str, Field(max_length=1_000)] | None = None
    url: Annotated[str, Field(max_length=2_000)] | None = None
    published: IsoDate | None = None

    @model_validator(mode="after")
    def _text_or_html(self) -> Article:
        if (self.text is None) == (self.html is None):
            found = "both" if self.text is not None else "neither"
            raise ValueError(f"give the article as 'text' or as 'html' (a web page), found {found}")
        return self


class ArticleReject(BaseModel):
    article: int = Field(description="Index of the article in the request.")
    source: str
    reason: str = Field(description="Why it was not scored, e.g. no article text could be extracted from its HTML.")


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
    author: str | None = Field(None, description="From the page, for an article sent as 'html'.")
    extracted_text: str | None = Field(
        None, description="For an article sent as 'html': the text extracted from it, which the offsets refer to."
    )


class ScoreResponse(BaseModel):
    model: str
    sentences: list[ScoredSentence]
    articles: list[ArticleSummary]
    sources: dict[str, dict[str, Any]]
    timeline: list[dict[str, Any]] = Field(
        [],
        description="Per source and period (the request's 'period'): sentences, articles, slant and adopted slant "
        "with 95% CIs, frame shares, low_n; the rows 'framing score' writes to timeline.csv. Empty when no "
        "article has a date.",
    )
    timeline_note: str = Field("", description="Articles the timeline leaves out (no date); empty when none.")
    rejects: list[ArticleReject] = Field(
        [], description="Articles that could not be scored (e.g. a page with no article text); the rest are."
    )
    warnings: list[str] = []
