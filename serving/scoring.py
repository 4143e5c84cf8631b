"""Articles in, labelled sentences and per-source profiles out.

Why here and not in the service: the HTTP service and batch scoring must produce the
same sentences, labels and profiles for the same text, so both call ``score_articles``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.classifier import FramingClassifier
from model.profiles import source_profiles
from model.text import language_note, segment


def score_articles(
    clf: FramingClassifier, articles: Sequence[dict[str, Any]], *, batch_size: int = 32, n_boot: int = 1000
) -> dict[str, Any]:
    """``articles``: dicts with ``source`` and ``text`` (plus optional title, url, published)."""
    units: list[tuple[int, Any]] = []
    summaries: list[dict[str, Any]] = []
    warnings: list[str] = []
    for i, art in enumerate(articles):
        sentences = segment(art["text"])
        note = language_note(art["text"])
        summaries.append(
            {
                "article": i,
                "source": art["source"],
                "title": art.get("title"),
                "url": art.get("url"),
                "published": art.get("published"),
                "n_sentences": len(sentences),
                "non_english": note is not None,
                "language_note": note,
            }
        )
        if note is not None:
            warnings.append(
                f"article {i} ({art['source']}): {note}; the model is trained on English and its labels "
                "are unreliable here"
            )
        if not sentences:
            warnings.append(f"article {i} ({art['source']}): no content sentences after removing page debris")
        units.extend((i, s) for s in sentences)
    frame_p, attr_p = clf.predict_proba([s.clean for _, s in units], batch_size=batch_size)
    scored = [
        {"article": i, "sentence_index": s.index, "start": s.start, "end": s.end, "text": s.text, **p.to_dict()}
        for (i, s), p in zip(units, clf.to_predictions(frame_p, attr_p), strict=True)
    ]
    sources = [articles[i]["source"] for i, _ in units]
    profiles = source_profiles(sources, frame_p.numpy(), attr_p.numpy(), clf.schema, n_boot=n_boot) if units else {}
    return {
        "sentences": scored,
        "articles": summaries,
        "sources": profiles,
        "warnings": warnings,
    }
