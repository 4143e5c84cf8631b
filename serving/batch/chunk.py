"""Step 3, score one chunk with the service's functions: sentences and article rows as Arrow tables.

The engines differ only in how they produce chunk results; this is the one place a chunk
is segmented, labelled and summarised, so every engine writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.schema import Schema
from serving.batch.records import ArticleRecord
from serving.scoring import segment_articles, unit_contexts

# --------------------------------------------------------------------------- scoring
# (sentences, their contexts or None) -> (frame probabilities, attribution probabilities)
Predict = Callable[[list[str], list[str] | None], tuple[np.ndarray, np.ndarray]]


ARTICLE_KEYS = ("article_id", "source", "title", "published", "url")  # first columns of both tables (all strings)


def sentence_schema(schema: Schema) -> Any:
    """The Arrow schema of sentences.parquet (the column contract other tools rely on)."""
    import pyarrow as pa

    return pa.schema(
        [
            *[(k, pa.string()) for k in ARTICLE_KEYS],
            ("sentence_index", pa.int32()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("text", pa.string()),
            ("frame", pa.string()),
            *[(f"frame_p.{f}", pa.float32()) for f in schema.frame_names],
            ("attribution", pa.string()),
            *[(f"attribution_p.{a}", pa.float32()) for a in schema.attribution_names],
        ]
    )


def article_schema(schema: Schema) -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            *[(k, pa.string()) for k in ARTICLE_KEYS],
            ("file", pa.string()),
            ("record", pa.string()),
            ("n_sentences", pa.int32()),
            ("non_english", pa.bool_()),
            ("language_note", pa.string()),
            ("top_frame", pa.string()),
            *[(f"frame_share.{f}", pa.float64()) for f in schema.frame_names],
        ]
    )


@dataclass
class ChunkResult:
    """One chunk's sentences and article rows (Arrow tables with the schemas above)."""

    sentences: Any
    articles: Any

    def to_bytes(self) -> tuple[bytes, bytes]:
        """Arrow IPC bytes, to move a result between processes (the Ray engine)."""
        return _table_bytes(self.sentences), _table_bytes(self.articles)

    @classmethod
    def from_bytes(cls, sentences: bytes, articles: bytes) -> ChunkResult:
        import pyarrow as pa

        return cls(pa.ipc.open_stream(sentences).read_all(), pa.ipc.open_stream(articles).read_all())


def _table_bytes(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def score_chunk(
    predict: Predict, schema: Schema, articles: list[ArticleRecord], context_settings: tuple[int, int] | None = None
) -> ChunkResult:
    """Segment, label and summarise one chunk with the service's functions.

    ``context_settings``: the model's (window, max characters) when it reads context.
    """
    import pyarrow as pa

    inputs = [a.as_scoring_input() for a in articles]
    units, summaries, _ = segment_articles(inputs)
    frame_p, attr_p = predict([s.clean for _, s in units], unit_contexts(inputs, units, context_settings))
    frame_p = np.asarray(frame_p, dtype=np.float32).reshape(len(units), len(schema.frame_names))
    attr_p = np.asarray(attr_p, dtype=np.float32).reshape(len(units), len(schema.attribution_names))
    frames, attrs = np.array(schema.frame_names, dtype=object), np.array(schema.attribution_names, dtype=object)
    top_f = frame_p.argmax(1) if len(units) else np.zeros(0, dtype=int)
    top_a = attr_p.argmax(1) if len(units) else np.zeros(0, dtype=int)
    art_of = [articles[i] for i, _ in units]
    cols: dict[str, Any] = {
        "article_id": [a.article_id for a in art_of],
        "source": [a.source for a in art_of],
        "title": [a.title for a in art_of],
        "published": [a.published for a in art_of],
        "url": [a.url for a in art_of],
        "sentence_index": [s.index for _, s in units],
        "start": [s.start for _, s in units],
        "end": [s.end for _, s in units],
        "text": [s.text for _, s in units],
        "frame": frames[top_f].tolist(),
    }
    cols.update({f"frame_p.{f}": frame_p[:, k] for k, f in enumerate(schema.frame_names)})
    cols["attribution"] = attrs[top_a].tolist()
    cols.update({f"attribution_p.{a}": attr_p[:, k] for k, a in enumerate(schema.attribution_names)})
    sentences = pa.Table.from_pydict(cols, schema=sentence_schema(schema))

    which = np.array([i for i, _ in units], dtype=int)
    rows: dict[str, list[Any]] = {name: [] for name in article_schema(schema).names}
    for i, (art, summ) in enumerate(zip(articles, summaries, strict=True)):
        mine = top_f[which == i]
        n = len(mine)
        shares = np.bincount(mine, minlength=len(schema.frame_names)) / n if n else None
        for key in ("article_id", "source", "title", "published", "url", "file", "record"):
            rows[key].append(getattr(art, key))
        rows["n_sentences"].append(summ["n_sentences"])
        rows["non_english"].append(summ["non_english"])
        rows["language_note"].append(summ["language_note"])
        rows["top_frame"].append(schema.frame_names[int(shares.argmax())] if shares is not None else None)
        for k, f in enumerate(schema.frame_names):
            rows[f"frame_share.{f}"].append(round(float(shares[k]), 4) if shares is not None else None)
    return ChunkResult(sentences, pa.Table.from_pydict(rows, schema=article_schema(schema)))
