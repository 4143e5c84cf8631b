"""Articles in, labelled sentences and per-source profiles out.

Why here and not in the service: the HTTP service and batch scoring (``framing score``)
must produce the same sentences, labels and profiles for the same text. The service calls
``score_articles``; batch scoring needs the same steps separately (it segments and labels
one chunk of articles at a time and profiles every source once at the end), so the steps
are functions of their own and ``score_articles`` is just their composition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from model.profiles import source_profiles
from model.schema import Schema
from model.text import Sentence, language_note, segment

if TYPE_CHECKING:  # torch is not needed to segment or profile (framing score --url never loads it)
    from model.classifier import FramingClassifier

N_BOOT = 1000  # bootstrap resamples behind every profile CI: the service and batch scoring must agree


def segment_articles(
    articles: Sequence[dict[str, Any]],
) -> tuple[list[tuple[int, Sentence]], list[dict[str, Any]], list[str]]:
    """Split each article into sentences: (units = (article index, sentence), summaries, warnings)."""
    units: list[tuple[int, Sentence]] = []
    summaries: list[dict[str, Any]] = []
    warnings: list[str] = []
    for i, art in enumerate(articles):
        sentences = segment(art["text"])
        note = language_note(art["text"])
        n = art.get("index", i)  # the article's index in the request (prepare_articles may have set aside some)
        summary = {
            "article": n,
            "source": art["source"],
            "title": art.get("title"),
            "url": art.get("url"),
            "published": art.get("published"),
            "n_sentences": len(sentences),
            "non_english": note is not None,
            "language_note": note,
        }
        if "extracted_text" in art:
            summary |= {"author": art.get("author"), "extracted_text": art["extracted_text"]}
        summaries.append(summary)
        if note is not None:
            warnings.append(
                f"article {n} ({art['source']}): {note}; the model is trained on English and its labels "
                "are unreliable here"
            )
        if not sentences:
            warnings.append(f"article {n} ({art['source']}): no content sentences after removing page debris")
        units.extend((i, s) for s in sentences)
    return units, summaries, warnings


def unit_contexts(
    articles: Sequence[dict[str, Any]], units: Sequence[tuple[int, Sentence]], settings: tuple[int, int] | None
) -> list[str] | None:
    """The context string of every unit (``model.context``), or None for a sentence-only model.

    ``settings``: the model's (window, max characters), ``FramingClassifier.context_settings``.
    """
    if settings is None:
        return None
    from model.context import article_contexts

    window, max_chars = settings
    by_article: dict[int, list[Sentence]] = {}
    for i, s in units:
        by_article.setdefault(i, []).append(s)
    contexts: dict[tuple[int, int], str] = {}
    for i, sentences in by_article.items():
        art = articles[i]
        found = article_contexts(
            art["text"],
            [(s.start, s.end) for s in sentences],
            [s.clean for s in sentences],
            title=art.get("title"),
            window=window,
            max_chars=max_chars,
        )
        contexts.update(((i, s.index), c) for s, c in zip(sentences, found, strict=True))
    return [contexts[(i, s.index)] for i, s in units]


def profile_sources(
    sources: Sequence[str], frame_p: np.ndarray, attr_p: np.ndarray, schema: Schema, *, n_boot: int = N_BOOT
) -> dict[str, dict[str, Any]]:
    """Per-source profiles over every sentence of each source, in article then sentence order."""
    return source_profiles(sources, frame_p, attr_p, schema, n_boot=n_boot) if len(sources) else {}


def prepare_articles(articles: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Articles given as web pages (``html``) become text articles; (articles to score, rejects).

    The page's title, date and URL fill the fields the caller left empty; its extracted text is
    kept (``extracted_text``) because sentence offsets refer to it. A page with no article text
    is a reject with its reason, and the other articles are scored as usual; every article keeps
    its index in the request (``index``).
    """
    from serving.html import extract_html

    ready: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for i, art in enumerate(articles):
        if not art.get("html"):
            ready.append({**art, "index": i})
            continue
        found = extract_html(art["html"])  # the request model has bounded the page
        if isinstance(found, str):
            rejects.append({"article": i, "source": art["source"], "reason": found})
            continue
        ready.append(
            {
                **{k: v for k, v in art.items() if k != "html"},
                "index": i,
                "text": found.text,
                "title": art.get("title") or found.title,
                "url": art.get("url") or found.url,
                "published": art.get("published") or found.published,
                "author": found.author,
                "extracted_text": found.text,
            }
        )
    return ready, rejects


def score_articles(
    clf: FramingClassifier,
    articles: Sequence[dict[str, Any]],
    *,
    batch_size: int | None = None,
    n_boot: int = N_BOOT,
    period: str | None = None,
) -> dict[str, Any]:
    """``articles``: dicts with ``source`` and ``text`` (plus optional title, url, published, index).

    ``period``: also the timeline per source and ``day``/``week``/``month`` (``model.timeline``,
    the rows ``framing score`` writes to timeline.csv) when any article has a date.
    """
    units, summaries, warnings = segment_articles(articles)
    contexts = unit_contexts(articles, units, clf.context_settings)
    frame_p, attr_p = clf.predict_proba([s.clean for _, s in units], batch_size=batch_size, contexts=contexts)
    index = [articles[i].get("index", i) for i, _ in units]
    scored = [
        {"article": n, "sentence_index": s.index, "start": s.start, "end": s.end, "text": s.text, **p.to_dict()}
        for n, (_, s), p in zip(index, units, clf.to_predictions(frame_p, attr_p), strict=True)
    ]
    sources = [articles[i]["source"] for i, _ in units]
    profiles = profile_sources(sources, frame_p.numpy(), attr_p.numpy(), clf.schema, n_boot=n_boot)
    result: dict[str, Any] = {"sentences": scored, "articles": summaries, "sources": profiles, "warnings": warnings}
    published = [articles[i].get("published") for i, _ in units]
    if period is not None and any(published):
        from model.timeline import source_timeline

        timeline = source_timeline(
            sources, published, [str(n) for n in index], frame_p.numpy(), attr_p.numpy(), clf.schema,
            period=period, n_boot=n_boot,
        )  # fmt: skip
        result |= {"timeline": timeline.rows, "timeline_note": timeline.note(profiles="the response's sources")}
    return result
