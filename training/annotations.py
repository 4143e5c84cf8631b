"""Read and validate annotation files.

Why strict: everything downstream learns from these labels. A misspelt label or a span
that drifted from the article would silently teach the model nonsense, so loading stops
at the first bad line and says which file, which line and what to fix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from model.schema import Schema
from model.text import normalise

SEED_FIELDS = ("doc_id", "source", "sentence_id", "start", "end", "text", "frame", "secondary_frames", "attribution")
SEED_OPTIONAL = ("note",)
# Who labelled the sentence: written by 'framing annotate import' (training/labelstudio.py); optional, so the
# seed files written before it (and by training.drafts) stay valid as they are.
SEED_PROVENANCE = ("annotator",)
SYNTHETIC_FIELDS = ("id", "text", "frame", "secondary_frames", "attribution", "voice", "sub_event", "synthetic")
SYNTHETIC_OPTIONAL = ("hard_case",)


class AnnotationError(ValueError):
    """A malformed annotation; the message names file, line and problem."""


@dataclass(frozen=True)
class Example:
    """One labelled sentence, seed or synthetic, as the dataset builder needs it."""

    sentence_id: str
    doc_id: str
    source: str
    text: str  # exactly as annotated (seed: the article span)
    clean: str  # what the model reads (model.text.normalise)
    frame: str
    secondary_frames: tuple[str, ...]
    attribution: str
    synthetic: bool = False
    voice: str = "WEST"
    sub_event: str = ""
    start: int = -1
    end: int = -1
    note: str = ""
    context: str = ""  # what the model reads beside the sentence (model.context); "" = the sentence alone
    camp: str = ""  # team-written articles: the camp, genre and writer (seeds/corpus/articles.csv)
    genre: str = ""
    writer: str = ""
    annotator: str = ""  # who labelled it, where the file says (framing annotate import writes it)


def read_jsonl(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; ``AnnotationError`` names file and line of any bad one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    if not raw.strip():
        raise AnnotationError(f"{path}: the file is empty; expected one JSON object per line")
    for lineno, raw_line in enumerate(raw.split(b"\n"), start=1):
        try:
            line = raw_line.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise AnnotationError(
                f"{path}:{lineno}: not UTF-8 (byte 0x{raw_line[exc.start]:02x} at column {exc.start + 1}); "
                "re-save the file as UTF-8"
            ) from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(record, dict):
            raise AnnotationError(f"{path}:{lineno}: expected a JSON object, found {type(record).__name__}")
        yield lineno, record


def _check_fields(where: str, record: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    missing = [f for f in required if f not in record]
    if missing:
        raise AnnotationError(f"{where}: missing field(s) {missing}; every line needs {list(required)}")
    extra = sorted(set(record) - set(required) - set(optional))
    if extra:
        raise AnnotationError(f"{where}: unknown field(s) {extra}; allowed are {list(required + optional)}")
    for f in ("text", "frame", "attribution"):
        if not isinstance(record[f], str) or not record[f].strip():
            raise AnnotationError(f"{where}: field {f!r} must be a non-empty string, found {record[f]!r}")
    if not isinstance(record["secondary_frames"], list) or not all(
        isinstance(s, str) for s in record["secondary_frames"]
    ):
        raise AnnotationError(
            f"{where}: 'secondary_frames' must be a list of frame names, found {record['secondary_frames']!r}"
        )


def _check_labels(where: str, record: dict[str, Any], schema: Schema) -> None:
    if record["frame"] not in schema.frame_names:
        raise AnnotationError(f"{where}: unknown frame {record['frame']!r}; the schema allows {schema.frame_names}")
    for sec in record["secondary_frames"]:
        if sec not in schema.frame_names:
            raise AnnotationError(f"{where}: unknown secondary frame {sec!r}; the schema allows {schema.frame_names}")
        if sec == record["frame"]:
            raise AnnotationError(f"{where}: secondary frame {sec!r} repeats the primary frame")
    if record["attribution"] not in schema.attribution_names:
        raise AnnotationError(
            f"{where}: unknown attribution {record['attribution']!r}; the schema allows {schema.attribution_names}"
        )


def load_seed_annotations(
    path: Path, articles_dir: Path, schema: Schema, texts: dict[str, str] | None = None
) -> list[Example]:
    """Annotations whose spans point into the article files in ``articles_dir``.

    ``texts``, if given, receives each article's text by doc_id (the context builder reads it).
    """
    examples: list[Example] = []
    seen: dict[str, int] = {}
    articles: dict[str, str] = {}
    for lineno, rec in read_jsonl(path):
        where = f"{path}:{lineno}"
        _check_fields(where, rec, SEED_FIELDS, SEED_OPTIONAL + SEED_PROVENANCE)
        _check_labels(where, rec, schema)
        if "annotator" in rec and (not isinstance(rec["annotator"], str) or not rec["annotator"].strip()):
            raise AnnotationError(f"{where}: 'annotator' must be a non-empty string, found {rec['annotator']!r}")
        sid = rec["sentence_id"]
        if not isinstance(sid, str) or not sid:
            raise AnnotationError(f"{where}: 'sentence_id' must be a non-empty string, found {sid!r}")
        if sid in seen:
            raise AnnotationError(f"{where}: duplicate sentence_id {sid!r} (first on line {seen[sid]})")
        seen[sid] = lineno
        doc_id = rec["doc_id"]
        if doc_id not in articles:
            article = articles_dir / f"{doc_id}.txt"
            if not article.is_file():
                raise AnnotationError(f"{where}: doc_id {doc_id!r} has no article file {article}")
            try:
                articles[doc_id] = article.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise AnnotationError(
                    f"{where}: article {article} is not UTF-8 ({exc.reason} at byte {exc.start})"
                ) from None
        start, end = rec["start"], rec["end"]
        body = articles[doc_id]
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise AnnotationError(f"{where}: 'start' and 'end' must be integers, found {start!r}, {end!r}")
        if not 0 <= start < end <= len(body):
            raise AnnotationError(f"{where}: span [{start}, {end}) is outside {doc_id}.txt (length {len(body)})")
        if body[start:end] != rec["text"]:
            raise AnnotationError(
                f"{where}: span [{start}, {end}) of {doc_id}.txt reads {body[start:end][:60]!r}, "
                f"but 'text' is {rec['text'][:60]!r}; fix the offsets or the text"
            )
        examples.append(
            Example(
                sentence_id=sid,
                doc_id=doc_id,
                source=str(rec["source"]),
                text=rec["text"],
                clean=normalise(rec["text"]),
                frame=rec["frame"],
                secondary_frames=tuple(rec["secondary_frames"]),
                attribution=rec["attribution"],
                start=start,
                end=end,
                note=str(rec.get("note") or ""),
                annotator=str(rec.get("annotator") or ""),
            )
        )
    if texts is not None:
        texts.update(articles)
    return examples


ARTICLE_META_FIELDS = (
    "doc_id",
    "source",
    "outlet",
    "camp",
    "genre",
    "writer",
    "date",
    "title",
    "n_sentences",
    "synthetic",
)


def load_article_meta(path: Path, examples: list[Example]) -> tuple[list[Example], dict[str, dict[str, str]]]:
    """Attach camp, genre and writer from ``articles.csv`` to each article sentence.

    Every doc_id with annotations needs one row, whose source and sentence count agree with
    the annotations: provenance that silently drifted from the labels would make the
    leave-one-camp-out protocol test on the wrong articles.
    """
    import csv

    if not path.is_file():
        raise AnnotationError(f"{path}: file not found; every annotated article needs a row here")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if list(reader.fieldnames or []) != list(ARTICLE_META_FIELDS):
            raise AnnotationError(f"{path}: header {reader.fieldnames}; expected {list(ARTICLE_META_FIELDS)}")
        meta: dict[str, dict[str, str]] = {}
        for lineno, row in enumerate(reader, start=2):
            if row["doc_id"] in meta:
                raise AnnotationError(f"{path}:{lineno}: duplicate doc_id {row['doc_id']!r}")
            if row["synthetic"] != "true":
                raise AnnotationError(f"{path}:{lineno}: 'synthetic' must be true for a team-written article")
            meta[row["doc_id"]] = row
    counts: dict[str, int] = {}
    for e in examples:
        counts[e.doc_id] = counts.get(e.doc_id, 0) + 1
    for doc_id, n in counts.items():
        row = meta.get(doc_id)
        if row is None:
            raise AnnotationError(f"{path}: no row for annotated article {doc_id!r}")
        if row["n_sentences"] != str(n):
            raise AnnotationError(f"{path}: {doc_id} says {row['n_sentences']} sentences, annotations have {n}")
    out = []
    for e in examples:
        row = meta[e.doc_id]
        if row["source"] != e.source:
            raise AnnotationError(f"{path}: {e.sentence_id} has source {e.source!r}, articles.csv {row['source']!r}")
        out.append(replace(e, camp=row["camp"], genre=row["genre"], writer=row["writer"]))
    return out, meta


def load_synthetic(paths: Iterable[Path], schema: Schema) -> list[Example]:
    """Team-written augmentation sentences; every line must say ``"synthetic": true``."""
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for path in paths:
        for lineno, rec in read_jsonl(path):
            where = f"{path}:{lineno}"
            _check_fields(where, rec, SYNTHETIC_FIELDS, SYNTHETIC_OPTIONAL)
            _check_labels(where, rec, schema)
            if rec["synthetic"] is not True:
                raise AnnotationError(f"{where}: 'synthetic' must be true in an augmentation file")
            sid = str(rec["id"])
            if sid in seen:
                raise AnnotationError(f"{where}: duplicate id {sid!r} (also in {seen[sid]})")
            seen[sid] = where
            examples.append(
                Example(
                    sentence_id=sid,
                    doc_id=f"synthetic:{rec['voice']}",
                    source=f"synthetic-{rec['voice']}",
                    text=rec["text"],
                    clean=normalise(rec["text"]),
                    frame=rec["frame"],
                    secondary_frames=tuple(rec["secondary_frames"]),
                    attribution=rec["attribution"],
                    synthetic=True,
                    voice=str(rec["voice"]),
                    sub_event=str(rec["sub_event"]),
                    note=str(rec.get("hard_case") or ""),
                )
            )
    return examples
