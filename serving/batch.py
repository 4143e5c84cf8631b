"""Batch scoring of a corpus without a server: the engine behind ``framing score``.

What happens, in order:

1. **Inputs** are resolved: folders of ``.txt`` files (one article per file), ``.jsonl``,
   ``.csv`` and ``.parquet`` tables, each optionally gzip-compressed. Column names are
   checked up front (a missing column is a usage error naming the columns that exist).
2. **Pass 1** reads every record and validates it. A malformed record (missing or empty
   text, wrong type, undecodable bytes, bad JSON, duplicate id, ...) becomes a *reject*
   with its file, line or row and the reason, and the run goes on: one bad record never
   costs the good ones. ``--strict`` stops at the first reject instead.
3. **Pass 2** reads the inputs again and scores the valid articles in fixed chunks (the
   same articles in the same chunks on every run). Each finished chunk is written to
   ``OUT/.checkpoint/`` atomically, so an interrupted run (Ctrl-C, kill -9, a crash)
   resumes where it stopped, without re-scoring or duplicating finished articles, and
   gives exactly the outputs of an uninterrupted run. A fingerprint of inputs, model and
   options guards the checkpoint against mixing two different runs.
4. **Outputs** are assembled from the chunks at the end, each written atomically
   (temporary file, then ``os.replace``): ``sentences.parquet`` (or ``.csv``),
   ``articles.csv``, ``sources.csv`` (profiles over *all* sentences of each source, with
   the service's function and arguments), ``rejects.jsonl`` and ``manifest.json`` last.

Scoring a chunk reuses the service's pieces (``serving.scoring.segment_articles``,
``FramingClassifier.predict_proba``, ``serving.scoring.profile_sources``), so sentences,
labels and source profiles equal what ``POST /score`` returns for the same articles.
Three engines produce the chunks: ``local`` (the model in this process), ``remote``
(``--url``: a running service's ``POST /classify``) and ``ray`` (``serving.batch_ray``,
an actor pool of model replicas); everything else is shared.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from model.schema import Schema
from model.text import has_control_characters
from serving.scoring import N_BOOT, profile_sources, segment_articles, unit_contexts

# ------------------------------------------------------------------------ constants
TXT, JSONL, CSV, PARQUET = "txt", "jsonl", "csv", "parquet"
SUFFIXES = {".txt": TXT, ".jsonl": JSONL, ".ndjson": JSONL, ".csv": CSV, ".parquet": PARQUET}
SIDECAR = "sources.csv"
SIDECAR_KEYS = ("file", "article_id", "id", "doc_id")
CHECKPOINT_DIR = ".checkpoint"
FINGERPRINT_FILE = "fingerprint.json"
FORMATS = ("parquet", "csv")
ENGINES = ("local", "ray")
SENTENCES = "sentences"
OUTPUT_FILES = ("sentences.parquet", "sentences.csv", "articles.csv", "sources.csv", "rejects.jsonl", "manifest.json")
MANIFEST_VERSION = 1
EXIT_OK, EXIT_REJECTS, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_UNDECODABLE_RE = re.compile("[\udc80-\udcff]")  # undecodable bytes, as errors="surrogateescape" decodes them


# --------------------------------------------------------------------------- errors
class BatchError(Exception):
    """Base class; ``exit_code`` is what ``framing score`` exits with."""

    exit_code = EXIT_FAILED


class UsageError(BatchError):
    """The command itself is wrong (missing input, unknown column, bad option, foreign checkpoint)."""

    exit_code = EXIT_USAGE


class StrictRejectError(BatchError):
    """``--strict`` and a record was rejected: nothing is written."""

    exit_code = EXIT_USAGE


class RunError(BatchError):
    """The run could not finish (model, service or disk); the checkpoint is kept for a rerun."""

    exit_code = EXIT_FAILED


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class ArticleRecord:
    """One valid article, with where it came from."""

    article_id: str
    source: str
    text: str
    title: str | None
    published: str | None
    url: str | None
    file: str
    record: str  # "line 3", "row 0" or "" for a .txt file

    def as_scoring_input(self) -> dict[str, Any]:
        return {"source": self.source, "text": self.text, "title": self.title, "published": self.published}


@dataclass(frozen=True)
class Reject:
    """A record that was not scored, and why (one line of rejects.jsonl)."""

    file: str
    reason: str
    line: int | None = None
    row: int | None = None
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file}
        if self.line is not None:
            out["line"] = self.line
        if self.row is not None:
            out["row"] = self.row
        if self.id is not None:
            out["id"] = self.id
        out["reason"] = self.reason
        return out

    def where(self) -> str:
        loc = f" line {self.line}" if self.line is not None else f" row {self.row}" if self.row is not None else ""
        return f"{self.file}{loc}"


@dataclass(frozen=True)
class Columns:
    """Table column names. ``None`` for an optional column means "use its usual name if present"."""

    text: str = "text"
    source: str = "source"
    id: str | None = None
    title: str | None = None
    date: str | None = None
    url: str | None = None


DEFAULT_OPTIONAL = {"id": ("id",), "title": ("title",), "date": ("published", "date"), "url": ("url",)}


@dataclass
class ScoreOptions:
    """Everything ``framing score`` was asked to do."""

    inputs: list[Path]
    out: Path
    fmt: str = "parquet"
    source: str | None = None
    columns: Columns = field(default_factory=Columns)
    model: Path | None = None
    url: str | None = None
    engine: str = "local"
    ray_address: str | None = None
    replicas: int | None = None
    batch_size: int | None = None  # None: the model's default (model.classifier.DEFAULT_BATCH_SIZE)
    chunk_size: int = 64
    strict: bool = False
    restart: bool = False
    keep_checkpoint: bool = False
    retries: int = 6
    backoff_s: float = 0.5
    progress: bool | None = None  # None: a bar when stderr is a terminal
    command: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass(frozen=True)
class InputFile:
    """One file to read. ``display`` names it in ids and rejects; ``root`` is the folder it was found in."""

    path: Path
    kind: str
    gz: bool
    display: str
    given: str
    root: Path | None = None


# --------------------------------------------------------------------------- inputs
def _kind_of(path: Path) -> tuple[str | None, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    return (SUFFIXES.get(suffixes[-1]) if suffixes else None), gz


def _strip_suffix(name: str) -> str:
    for suffix in (".txt.gz", ".txt"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve_inputs(paths: Iterable[Path]) -> list[InputFile]:
    """Expand folders to their ``.txt`` files (sorted, recursive); check every path exists and is readable."""
    files: list[InputFile] = []
    paths = list(paths)
    if not paths:
        raise UsageError("no INPUT given: pass a folder of .txt files or .jsonl/.csv/.parquet files")
    for given in paths:
        if not given.exists():
            raise UsageError(f"input {given} does not exist")
        if given.is_dir():
            found = sorted(
                p for p in given.rglob("*") if p.is_file() and _kind_of(p)[0] == TXT and not p.name.startswith(".")
            )
            if not found:
                others = sorted({"".join(p.suffixes) for p in given.rglob("*") if p.is_file() and _kind_of(p)[0]})
                hint = (
                    f"; it holds {', '.join(others)} files: pass them as inputs (e.g. {given}/*.jsonl)"
                    if others
                    else ""
                )
                raise UsageError(f"folder {given} has no .txt (or .txt.gz) files{hint}")
            files.extend(
                InputFile(p, TXT, _kind_of(p)[1], p.relative_to(given).as_posix(), str(given), given) for p in found
            )
            continue
        kind, gz = _kind_of(given)
        if kind is None:
            raise UsageError(
                f"unsupported input {given}: expected a folder of .txt files, or a .txt, .jsonl, .csv or .parquet "
                "file (optionally .gz)"
            )
        files.append(InputFile(given, kind, gz, str(given), str(given), given.parent if kind == TXT else None))
    seen: dict[Path, str] = {}
    for f in files:
        key = f.path.resolve()
        if key in seen:
            raise UsageError(f"{f.path} is given twice (also via {seen[key]}); every file may be read once")
        seen[key] = f.given
        if not os.access(f.path, os.R_OK):
            raise UsageError(f"cannot read {f.path}: permission denied")
    return files


def _open_binary(f: InputFile) -> IO[bytes]:
    return gzip.open(f.path, "rb") if f.gz else open(f.path, "rb")


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_inputs(files: list[InputFile]) -> list[dict[str, Any]]:
    """Path, kind, size and sha256 of every input file (manifest and fingerprint)."""
    return [
        {
            "path": str(f.path),
            "display": f.display,
            "kind": f.kind + (".gz" if f.gz else ""),
            "bytes": f.path.stat().st_size,
            "sha256": file_checksum(f.path),
        }
        for f in files
    ]


# ------------------------------------------------------------------- sidecar (.txt)
@dataclass(frozen=True)
class Sidecar:
    """``sources.csv`` beside .txt files: per-file source (and optional title, date, url)."""

    path: Path
    rows: dict[str, dict[str, str]]

    def lookup(self, rel: str) -> dict[str, str] | None:
        for key in (rel, _strip_suffix(rel), Path(rel).name, _strip_suffix(Path(rel).name)):
            if key in self.rows:
                return self.rows[key]
        return None


def load_sidecar(folder: Path) -> Sidecar | None:
    path = folder / SIDECAR
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            key = next((k for k in SIDECAR_KEYS if k in header), None)
            if key is None or "source" not in header:
                raise UsageError(
                    f"{path} needs a 'source' column and one of {list(SIDECAR_KEYS)} naming each .txt file; "
                    f"it has columns {header}"
                )
            rows = {str(r[key]).strip(): r for r in reader if r.get(key)}
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc}); re-save it as UTF-8") from None
    except csv.Error as exc:
        raise UsageError(f"{path} is not valid CSV: {exc}") from None
    return Sidecar(path, rows)


# ------------------------------------------------------------------- validation
def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _check_text(value: Any, col: str) -> str | None:
    """Why ``value`` is not a usable article text, or None when it is."""
    if value is None:
        return f"missing text: no '{col}' value"
    if not isinstance(value, str):
        return f"wrong type: '{col}' must be a string, found {_type_name(value)} ({str(value)[:40]!r})"
    if _UNDECODABLE_RE.search(value):
        return f"undecodable bytes in '{col}': not valid UTF-8; re-save the file as UTF-8"
    if not value.strip():
        return "empty text" if not value else "empty text: only whitespace"
    if has_control_characters(value):
        return f"control characters (e.g. NUL) in '{col}'; remove them or export plain text"
    return None


def _optional_str(value: Any, col: str) -> tuple[str | None, str | None]:
    """(value as text or None, problem). Numbers are accepted as text; objects and arrays are not."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return None, None
    if isinstance(value, (datetime, date)):
        return value.isoformat()[:10] if isinstance(value, datetime) and not value.time() else value.isoformat(), None
    if isinstance(value, (dict, list, tuple, bytes)):
        return None, f"wrong type: '{col}' must be a string, found {_type_name(value)}"
    text = str(value).strip()
    if _UNDECODABLE_RE.search(text):
        return None, f"undecodable bytes in '{col}': not valid UTF-8; re-save the file as UTF-8"
    return (text or None), None


@dataclass
class _TableColumns:
    """The column names one table file actually uses."""

    text: str
    source: str | None
    id: str | None
    title: str | None
    date: str | None
    url: str | None


def _table_columns(f: InputFile, header: list[str], cols: Columns, source: str | None) -> _TableColumns:
    """Check the requested columns against ``header``; a missing required column is a UsageError."""
    have = f"columns: {header}" if header else "no columns"

    def need(name: str, option: str) -> str:
        if name not in header:
            raise UsageError(f"{f.display} has no column '{name}' ({have}); choose one with {option}")
        return name

    text = need(cols.text, "--text-col")
    src: str | None = cols.source if cols.source in header else None
    if src is None and source is None:
        raise UsageError(
            f"{f.display} has no column '{cols.source}' ({have}); choose one with --source-col, or give every "
            "article of this input one source with --source NAME"
        )
    chosen: dict[str, str | None] = {}
    for key, defaults in DEFAULT_OPTIONAL.items():
        explicit = getattr(cols, key)
        if explicit is not None:
            chosen[key] = need(explicit, f"--{key}-col")
        else:
            chosen[key] = next((d for d in defaults if d in header), None)
    return _TableColumns(text, src, chosen["id"], chosen["title"], chosen["date"], chosen["url"])


def _record_to_article(
    f: InputFile, tc: _TableColumns, values: dict[str, Any], loc: dict[str, int], default_source: str | None
) -> ArticleRecord | Reject:
    """Validate one table record; the first problem found becomes the reject's reason."""
    [(where_key, where_n)] = loc.items()
    rid: str | None = None
    if tc.id:
        rid, problem = _optional_str(values.get(tc.id), tc.id)
        if problem:
            return Reject(f.display, problem, **loc)
    rid = rid or f"{f.display}:{where_n}"
    problem = _check_text(values.get(tc.text), tc.text)
    if problem:
        return Reject(f.display, problem, id=rid, **loc)
    src: str | None = None
    if tc.source is not None:
        raw = values.get(tc.source)
        if isinstance(raw, bool) or not isinstance(raw, (str, int, type(None))):
            reason = f"wrong type: '{tc.source}' must be a string, found {_type_name(raw)}"
            return Reject(f.display, reason, id=rid, **loc)
        src, problem = _optional_str(raw, tc.source)
        if problem:
            return Reject(f.display, problem, id=rid, **loc)
    src = src or default_source
    if not src:
        reason = f"missing source: no '{tc.source}' value (give a default with --source)"
        return Reject(f.display, reason, id=rid, **loc)
    extras: dict[str, str | None] = {}
    for key in ("title", "date", "url"):
        col = getattr(tc, key)
        extras[key], problem = _optional_str(values.get(col), col) if col else (None, None)
        if problem:
            return Reject(f.display, problem, id=rid, **loc)
    return ArticleRecord(
        rid, src, values[tc.text], extras["title"], extras["date"], extras["url"], f.display, f"{where_key} {where_n}"
    )


def _csv_reader(fh: IO[bytes]) -> Any:
    """A csv reader that never fails on bytes: undecodable ones become surrogates, caught per record."""
    csv.field_size_limit(sys.maxsize)
    return csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline=""))


def _jsonl_keys(f: InputFile) -> set[str]:
    """Every key of every JSON object line (the file's "columns"); unreadable lines are skipped here."""
    keys: set[str] = set()
    with contextlib.suppress(OSError, EOFError), _open_binary(f) as fh:
        for raw in fh:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                keys.update(obj)
    return keys


def resolve_columns(files: list[InputFile], cols: Columns, source: str | None) -> dict[Path, _TableColumns | None]:
    """The columns of every table input, checked before anything is read in earnest.

    Why up front: a wrong ``--text-col`` is a mistake in the command, not in the data; it
    should stop the run at once with the columns that do exist, not reject every record.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[Path, _TableColumns | None] = {}
    for f in files:
        if f.kind == JSONL:
            keys = _jsonl_keys(f)
            # No object line at all: nothing to check columns against; its lines become rejects.
            out[f.path] = _table_columns(f, sorted(keys), cols, source) if keys else None
        elif f.kind == CSV:
            try:
                with _open_binary(f) as fh:
                    header = next(_csv_reader(fh), None)
            except (csv.Error, OSError, EOFError) as exc:
                raise UsageError(f"cannot read the header of {f.display}: {exc}") from None
            if header is None:
                raise UsageError(f"{f.display} is empty: expected a header row with a '{cols.text}' column")
            out[f.path] = _table_columns(f, [h.strip() for h in header], cols, source)
        elif f.kind == PARQUET:
            try:
                with _open_binary(f) as fh:
                    names = list(pq.ParquetFile(io.BytesIO(fh.read()) if f.gz else fh).schema_arrow.names)
            except (OSError, EOFError, pa.ArrowException) as exc:
                raise UsageError(f"cannot read {f.display} as Parquet: {exc}") from None
            out[f.path] = _table_columns(f, names, cols, source)
    return out


# --------------------------------------------------------------------------- readers
def _read_txt(f: InputFile, source: str | None, sidecar: Sidecar | None) -> Iterator[ArticleRecord | Reject]:
    # The id: the path inside the folder given (nested folders kept), or the stem of a file given directly.
    article_id = _strip_suffix(f.path.name if f.display == f.given else f.display)
    try:
        with _open_binary(f) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        yield Reject(f.display, f"cannot read file: {exc}", id=article_id)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        yield Reject(
            f.display,
            f"undecodable bytes: not valid UTF-8 at byte {exc.start} (line {line}); re-save the file as UTF-8",
            id=article_id,
        )
        return
    problem = _check_text(text, "text")
    if problem:
        yield Reject(f.display, problem, id=article_id)
        return
    row = sidecar.lookup(f.display) if sidecar else None
    meta = row or {}
    src = source or (meta.get("source") or "").strip() or f.path.parent.name
    yield ArticleRecord(
        article_id,
        src,
        text,
        (meta.get("title") or "").strip() or None,
        (meta.get("published") or meta.get("date") or "").strip() or None,
        (meta.get("url") or "").strip() or None,
        f.display,
        "",
    )


def _read_jsonl(f: InputFile, tc: _TableColumns | None, source: str | None) -> Iterator[ArticleRecord | Reject]:
    """One JSON object per line; blank lines are skipped, every other line is an article or a reject."""
    n = 0
    try:
        with _open_binary(f) as fh:
            for n, raw in enumerate(fh, 1):
                try:
                    line = raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as exc:
                    yield Reject(f.display, f"undecodable bytes: not valid UTF-8 at column {exc.start + 1}", line=n)
                    continue
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield Reject(f.display, f"bad JSON: {exc.msg} at column {exc.colno}", line=n)
                    continue
                if not isinstance(obj, dict) or tc is None:
                    reason = f"wrong type: expected a JSON object per line, found {_type_name(obj)}"
                    yield Reject(f.display, reason, line=n)
                    continue
                yield _record_to_article(f, tc, obj, {"line": n}, source)
    except (OSError, EOFError) as exc:  # e.g. a truncated .gz: the lines read so far still count
        yield Reject(f.display, f"cannot read the rest of the file: {exc}", line=n + 1)


def _read_csv(f: InputFile, tc: _TableColumns, source: str | None) -> Iterator[ArticleRecord | Reject]:
    with _open_binary(f) as fh:
        reader = _csv_reader(fh)
        header = [h.strip() for h in next(reader)]
        line = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield Reject(f.display, f"malformed CSV: {exc}", line=line)
                line = reader.line_num + 1
                continue
            except (OSError, EOFError) as exc:
                yield Reject(f.display, f"cannot read the rest of the file: {exc}", line=line)
                break
            start, line = line, reader.line_num + 1
            if not row:
                continue
            if len(row) != len(header):
                yield Reject(f.display, f"malformed CSV: {len(row)} fields, the header has {len(header)}", line=start)
                continue
            yield _record_to_article(f, tc, dict(zip(header, row, strict=True)), {"line": start}, source)


def _read_parquet(f: InputFile, tc: _TableColumns, source: str | None) -> Iterator[ArticleRecord | Reject]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = sorted({c for c in (tc.text, tc.source, tc.id, tc.title, tc.date, tc.url) if c})
    row = 0
    try:
        with _open_binary(f) as fh:
            pfile = pq.ParquetFile(io.BytesIO(fh.read()) if f.gz else fh)
            for batch in pfile.iter_batches(columns=wanted, batch_size=1024):
                for values in batch.to_pylist():
                    yield _record_to_article(f, tc, values, {"row": row}, source)
                    row += 1
    except (OSError, EOFError, pa.ArrowException) as exc:
        yield Reject(f.display, f"cannot read the rest of the file: {exc}", row=row)


def scan(
    files: list[InputFile],
    table_columns: dict[Path, _TableColumns | None],
    source: str | None,
    sidecars: dict[Path, Sidecar | None],
) -> Iterator[ArticleRecord | Reject]:
    """Every record of every input, in order, as an article or a reject (duplicate ids included)."""
    first_seen: dict[str, str] = {}
    for f in files:
        tc = table_columns.get(f.path)
        if f.kind == TXT:
            records: Iterable[ArticleRecord | Reject] = _read_txt(f, source, sidecars.get(f.root) if f.root else None)
        elif f.kind == JSONL:
            records = _read_jsonl(f, tc, source)
        elif f.kind == CSV:
            assert tc is not None
            records = _read_csv(f, tc, source)
        else:
            assert tc is not None
            records = _read_parquet(f, tc, source)
        for rec in records:
            if isinstance(rec, ArticleRecord):
                where = f"{rec.file} {rec.record}".strip()
                if rec.article_id in first_seen:
                    loc = rec.record.split(" ")
                    kw = {loc[0]: int(loc[1])} if len(loc) == 2 else {}
                    rec = Reject(
                        rec.file,
                        f"duplicate id {rec.article_id!r}: first seen in {first_seen[rec.article_id]}",
                        id=rec.article_id,
                        **kw,
                    )
                else:
                    first_seen[rec.article_id] = where
            yield rec


def chunks(records: Iterable[ArticleRecord | Reject], size: int) -> Iterator[tuple[int, list[ArticleRecord]]]:
    """Valid articles in fixed chunks of ``size``: chunk k is the same articles on every run."""
    buf: list[ArticleRecord] = []
    k = 0
    for rec in records:
        if isinstance(rec, ArticleRecord):
            buf.append(rec)
            if len(buf) == size:
                yield k, buf
                k, buf = k + 1, []
    if buf:
        yield k, buf


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


# ------------------------------------------------------------------ atomic writing
@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``; renamed onto it only if the block finishes.

    Why: a reader (or a resumed run) must never see a half-written file. A crash or an
    exception inside the block leaves ``target`` as it was and removes the temporary file.
    """
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_csv_atomic(target: Path, rows: list[dict[str, Any]], header: list[str] | None = None) -> None:
    """Rows with the same keys; None becomes an empty cell (``profiles_from_rows`` reads it back as None)."""
    fields = header or (list(rows[0]) if rows else [])
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


# --------------------------------------------------------------------- checkpoint
class Checkpoint:
    """``OUT/.checkpoint/``: the fingerprint of the run and one pair of part files per finished chunk.

    A chunk is finished when its ``sentences`` part exists: its ``articles`` part is
    written (atomically) first, so the pair is always complete.
    """

    def __init__(self, out: Path):
        self.dir = out / CHECKPOINT_DIR

    def part(self, k: int, what: str) -> Path:
        return self.dir / f"chunk-{k:06d}.{what}.parquet"

    def done(self) -> set[int]:
        if not self.dir.is_dir():
            return set()
        return {
            int(p.name.split(".")[0].split("-")[1])
            for p in self.dir.glob("chunk-*.sentences.parquet")
            if self.part(int(p.name.split(".")[0].split("-")[1]), "articles").is_file()
        }

    def fingerprint(self) -> dict[str, Any] | None:
        path = self.dir / FINGERPRINT_FILE
        try:
            return json.loads(path.read_text()) if path.is_file() else None
        except (OSError, ValueError):
            return None

    def start(self, fingerprint: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".*.tmp-*"):  # a killed run's half-written part: never renamed, never used
            stale.unlink(missing_ok=True)
        if self.fingerprint() is None:
            write_text_atomic(self.dir / FINGERPRINT_FILE, json.dumps(fingerprint, indent=2))

    def save(self, k: int, result: ChunkResult) -> None:
        import pyarrow.parquet as pq

        for what, table in (("articles", result.articles), (SENTENCES, result.sentences)):
            with atomic_path(self.part(k, what)) as tmp:
                pq.write_table(table, tmp)

    def load(self, k: int, what: str) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(self.part(k, what))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------------ the model
@dataclass
class Scorer:
    """What the engines need to know about the model: schema, identity, and where it lives."""

    schema: Schema
    tag: str | None
    checksum: str | None
    model_dir: Path | None = None
    remote: Any = None  # serving.remote.RemoteClassifier in --url mode

    def identity(self) -> dict[str, Any]:
        if self.remote is not None:
            return {
                "url": self.remote.url,
                "tag": self.tag,
                "data_fingerprint": self.remote.info().get("data_fingerprint"),
            }
        return {"tag": self.tag, "checksum": self.checksum}


def model_checksum(model_dir: Path) -> str:
    """sha256 over the files that define the model's predictions (weights, schema, config, encoder)."""
    from model.classifier import CONFIG_FILE, ENCODER_DIR, SCHEMA_FILE, WEIGHTS_FILE

    digest = hashlib.sha256()
    files = [model_dir / WEIGHTS_FILE, model_dir / SCHEMA_FILE, model_dir / CONFIG_FILE]
    files += sorted(p for p in (model_dir / ENCODER_DIR).rglob("*") if p.is_file())
    for p in files:
        digest.update(p.relative_to(model_dir).as_posix().encode() + b"\0" + file_checksum(p).encode())
    return digest.hexdigest()


def resolve_model(model: Path | None) -> Scorer:
    """``--model DIR`` or ``framing-classifier:latest`` from the BentoML store (not loaded yet)."""
    from model.classifier import SCHEMA_FILE, ModelLoadError

    if model is None:
        import bentoml

        from model.store import MODEL_NAME

        try:
            ref = bentoml.models.get(f"{MODEL_NAME}:latest")
        except bentoml.exceptions.NotFound:
            raise RunError(
                f"no model '{MODEL_NAME}:latest' in the BentoML store "
                f"(BENTOML_HOME={os.environ.get('BENTOML_HOME', '~/bentoml')}); train one with 'framing train', "
                "pass --model DIR (a folder from 'framing train --export'), or --url a running service"
            ) from None
        model_dir, tag = Path(ref.path), str(ref.tag)
    else:
        if not model.is_dir():
            raise UsageError(f"--model {model} is not a folder; pass a folder written by 'framing train --export'")
        model_dir, tag = model, None
    try:
        schema = Schema.from_dict(json.loads((model_dir / SCHEMA_FILE).read_text()), origin=str(model_dir))
        checksum = model_checksum(model_dir)
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"{model_dir} is not a saved framing model ({exc}); point --model to a folder written by "
            "'framing train --export'"
        ) from None
    except ModelLoadError as exc:
        raise UsageError(str(exc)) from None
    if tag is None:
        tag = f"folder:{model_dir.resolve()}"
    return Scorer(schema, tag, checksum, model_dir=model_dir)


def load_classifier(model_dir: Path, threads: int | None = None) -> Any:
    from model.classifier import FramingClassifier, ModelLoadError

    try:
        return FramingClassifier.load(model_dir, threads=threads)
    except ModelLoadError as exc:
        raise RunError(str(exc)) from None


def local_predict(clf: Any, batch_size: int | None) -> Predict:
    def predict(texts: list[str], contexts: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        frame_p, attr_p = clf.predict_proba(texts, batch_size=batch_size, contexts=contexts)
        return frame_p.numpy(), attr_p.numpy()

    return predict


# ------------------------------------------------------------------------ the run
@dataclass
class RunResult:
    """What ``framing score`` reports and exits with."""

    out: Path
    files: dict[str, str]
    manifest: dict[str, Any]
    rejects: list[Reject]
    profiles: dict[str, dict[str, Any]]
    already_complete: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_REJECTS if self.rejects else EXIT_OK


def _fingerprint(options: ScoreOptions, inputs: list[dict[str, Any]], scorer: Scorer) -> dict[str, Any]:
    """What makes two runs' chunks interchangeable: inputs, model and the options that change results."""
    return {
        "inputs": [{k: i[k] for k in ("path", "bytes", "sha256")} for i in inputs],
        "model": scorer.identity(),
        "options": {
            "columns": asdict(options.columns),
            "source": options.source,
            "chunk_size": options.chunk_size,
            "batch_size": options.batch_size,
            "n_boot": N_BOOT,
        },
    }


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _check_out_dir(options: ScoreOptions, fingerprint: dict[str, Any]) -> RunResult | None:
    """Refuse to mix two runs in one folder; a finished identical run is answered from its manifest."""
    out, ckpt = options.out, Checkpoint(options.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    if options.restart:
        ckpt.remove()
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        return None
    old = ckpt.fingerprint()
    if old is not None and old != fingerprint:
        raise UsageError(
            f"{out} holds the checkpoint of a different run ({', '.join(_diff(old, fingerprint))} changed); "
            "rerun with --restart to discard it, or choose another --out"
        )
    manifest_path = out / "manifest.json"
    if old is None and manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("fingerprint") != fingerprint or manifest.get("format") != options.fmt:
            raise UsageError(
                f"{out} already holds the outputs of another run (manifest.json); rerun with --restart to replace "
                "them, or choose another --out"
            )
        files = manifest.get("outputs", {})
        if all((out / name).is_file() for name in files.values()):
            rejects = [Reject(**r) for r in _read_jsonl_rows(out / files["rejects"])] if "rejects" in files else []
            from model.profiles import profiles_from_rows

            with open(out / files["sources"], encoding="utf-8", newline="") as fh:
                profiles = profiles_from_rows(list(csv.DictReader(fh)))
            return RunResult(out, files, manifest, rejects, profiles, already_complete=True)
    return None


def _read_jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _progress(total: int, initial: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="article",
        desc="scoring",
        file=sys.stderr,
        disable=None if enabled is None else not enabled,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def run(options: ScoreOptions, *, log: Callable[[str], None] = lambda _m: None) -> RunResult:
    """Score ``options.inputs`` into ``options.out`` (see the module docstring)."""
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if options.fmt not in FORMATS:
        raise UsageError(f"--format must be one of {list(FORMATS)}, got {options.fmt!r}")
    if options.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {list(ENGINES)}, got {options.engine!r}")
    if options.url and options.engine != "local":
        raise UsageError("--url sends batches to a running service; it cannot be combined with --engine ray")
    if options.url and options.model:
        raise UsageError("--url uses the service's model; drop --model (or drop --url to load the model here)")
    if (options.batch_size is not None and options.batch_size < 1) or options.chunk_size < 1:
        raise UsageError("--batch-size and --chunk-size must be at least 1")
    if options.replicas is not None and options.replicas < 1:
        raise UsageError("--replicas must be at least 1")

    files = resolve_inputs(options.inputs)
    table_columns = resolve_columns(files, options.columns, options.source)
    sidecars = {root: load_sidecar(root) for root in {f.root for f in files if f.kind == TXT and f.root}}
    inputs = describe_inputs(files)

    remote = None
    if options.url:
        from serving.remote import RemoteClassifier, RemoteError

        try:
            remote = RemoteClassifier(options.url, retries=options.retries, backoff_s=options.backoff_s, log=log)
            info = remote.info()
            scorer = Scorer(Schema.from_dict(info["schema"], origin=f"{options.url}/info"), info["model"], None)
            scorer.remote = remote
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        except RemoteError as exc:
            raise RunError(str(exc)) from None
    else:
        scorer = resolve_model(options.model)

    fingerprint = _fingerprint(options, inputs, scorer)
    finished = _check_out_dir(options, fingerprint)
    if finished is not None:
        log(f"{options.out} already holds the finished outputs of this exact run; nothing to do (--restart redoes it)")
        return finished

    # Pass 1: validate everything, count articles, collect rejects (nothing scored yet).
    t0 = time.perf_counter()
    rejects: list[Reject] = []
    per_file: Counter[str] = Counter()
    sidecar_misses: Counter[str] = Counter()
    n_articles = 0
    for rec in scan(files, table_columns, options.source, sidecars):
        if isinstance(rec, Reject):
            if options.strict:
                raise StrictRejectError(
                    f"--strict: {rec.where()}{f' (id {rec.id!r})' if rec.id else ''}: {rec.reason}. "
                    "Nothing was written; fix the record or drop --strict to skip rejects."
                )
            rejects.append(rec)
        else:
            n_articles += 1
            per_file[rec.file] += 1
    for f in files:
        sc = sidecars.get(f.root) if f.kind == TXT and f.root else None
        if sc is not None and options.source is None and sc.lookup(f.display) is None:
            sidecar_misses[str(sc.path)] += 1
    read_s = time.perf_counter() - t0
    warnings = [
        f"{n} .txt files have no row in {path}; their source is their folder's name"
        for path, n in sidecar_misses.items()
    ]
    for w in warnings:
        log(f"warning: {w}")

    n_chunks = -(-n_articles // options.chunk_size)
    ckpt = Checkpoint(options.out)
    options.out.mkdir(parents=True, exist_ok=True)
    ckpt.start(fingerprint)
    done = {k for k in ckpt.done() if k < n_chunks}
    resumed_articles = sum(min(options.chunk_size, n_articles - k * options.chunk_size) for k in done)
    if done:
        log(f"resuming: {len(done)} of {n_chunks} chunks ({resumed_articles} articles) already scored in {ckpt.dir}")

    # Pass 2: score the chunks the checkpoint does not hold yet.
    t0 = time.perf_counter()
    load_s = 0.0
    scored_articles = scored_sentences = 0
    records = scan(files, table_columns, options.source, sidecars)
    pending = ((k, arts) for k, arts in chunks(records, options.chunk_size) if k not in done)
    bar = _progress(n_articles, resumed_articles, options.progress)
    try:
        if len(done) < n_chunks:
            if options.engine == "ray":
                from serving.batch_ray import ray_engine

                results: Iterable[tuple[int, ChunkResult, int]] = ray_engine(pending, scorer, options, log=log)
            else:
                if remote is not None:
                    from serving.remote import RemoteError

                    def predict_remote(texts: list[str], contexts: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
                        try:
                            return remote.predict_proba(
                                texts, per_request=max(options.batch_size or 0, 64), contexts=contexts
                            )
                        except RemoteError as exc:
                            raise RunError(str(exc)) from None

                    predict: Predict = predict_remote
                    settings = remote.context_settings
                else:
                    t_load = time.perf_counter()
                    clf = load_classifier(scorer.model_dir)  # type: ignore[arg-type]
                    load_s = time.perf_counter() - t_load
                    predict = local_predict(clf, options.batch_size)
                    settings = clf.context_settings
                results = ((k, score_chunk(predict, scorer.schema, arts, settings), len(arts)) for k, arts in pending)
            for k, result, n in results:
                ckpt.save(k, result)
                scored_articles += n
                scored_sentences += result.sentences.num_rows
                bar.update(n)
                bar.set_postfix_str(f"{scored_sentences / max(bar.format_dict['elapsed'], 1e-9):.1f} sentences/s")
    except OSError as exc:
        raise RunError(_io_message(exc, options.out)) from None
    finally:
        bar.close()
        if remote is not None:
            remote.close()
    score_s = time.perf_counter() - t0 - load_s

    # Assemble the final outputs from the checkpoint (atomically, manifest last).
    t0 = time.perf_counter()
    try:
        result = _finalise(options, scorer, ckpt, n_chunks, rejects, inputs, per_file, fingerprint, warnings)
    except OSError as exc:
        raise RunError(_io_message(exc, options.out)) from None
    write_s = time.perf_counter() - t0
    result.manifest["run"] = {
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "resumed_chunks": len(done),
        "resumed_articles": resumed_articles,
        "scored_articles": scored_articles,
        "scored_sentences": scored_sentences,
        "timings_s": {
            "read": round(read_s, 3),
            "load_model": round(load_s, 3),
            "score": round(score_s, 3),
            "write": round(write_s, 3),
            "total": round(time.perf_counter() - t_start, 3),
        },
        "articles_per_s": round(scored_articles / score_s, 2) if score_s > 0 and scored_articles else None,
        "sentences_per_s": round(scored_sentences / score_s, 2) if score_s > 0 and scored_sentences else None,
    }
    write_text_atomic(options.out / "manifest.json", json.dumps(result.manifest, indent=2, ensure_ascii=False))
    if not options.keep_checkpoint:
        ckpt.remove()
    return result


def _io_message(exc: OSError, out: Path) -> str:
    return (
        f"I/O error: {exc}. Finished chunks are kept in {out / CHECKPOINT_DIR}; free disk space or fix permissions, "
        "then run the same command again to resume"
    )


def _finalise(
    options: ScoreOptions,
    scorer: Scorer,
    ckpt: Checkpoint,
    n_chunks: int,
    rejects: list[Reject],
    inputs: list[dict[str, Any]],
    per_file: Counter[str],
    fingerprint: dict[str, Any],
    warnings: list[str],
) -> RunResult:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out, schema = options.out, scorer.schema
    sent_schema = sentence_schema(schema)
    fcols = [f"frame_p.{f}" for f in schema.frame_names]
    acols = [f"attribution_p.{a}" for a in schema.attribution_names]
    sources: list[str] = []
    frame_p: list[np.ndarray] = []
    attr_p: list[np.ndarray] = []
    article_tables = []
    sentences_name = f"sentences.{options.fmt}"
    with atomic_path(out / sentences_name) as tmp:
        writer: Any = (
            pq.ParquetWriter(tmp, sent_schema) if options.fmt == "parquet" else pacsv.CSVWriter(tmp, sent_schema)
        )
        try:
            for k in range(n_chunks):
                table = ckpt.load(k, SENTENCES)
                if table.schema != sent_schema:
                    raise RunError(
                        f"checkpoint part {ckpt.part(k, SENTENCES)} does not match this model's schema; "
                        "rerun with --restart"
                    )
                writer.write_table(table)
                sources.extend(table.column("source").to_pylist())
                frame_p.append(np.column_stack([table.column(c).to_numpy() for c in fcols]))
                attr_p.append(np.column_stack([table.column(c).to_numpy() for c in acols]))
                article_tables.append(ckpt.load(k, "articles"))
        finally:
            writer.close()
    fp = np.concatenate(frame_p) if frame_p else np.zeros((0, len(fcols)), dtype=np.float32)
    ap = np.concatenate(attr_p) if attr_p else np.zeros((0, len(acols)), dtype=np.float32)
    from model.profiles import profiles_to_rows

    profiles = profile_sources(sources, fp, ap, schema)
    write_csv_atomic(out / "sources.csv", profiles_to_rows(profiles), None if profiles else ["source", "n_sentences"])
    articles = pa.concat_tables(article_tables) if article_tables else article_schema(schema).empty_table()
    write_csv_atomic(out / "articles.csv", articles.to_pylist(), articles.schema.names)
    write_text_atomic(
        out / "rejects.jsonl", "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rejects)
    )
    reject_reasons = Counter(r.reason.split(":")[0] for r in rejects)
    per_input_rejects = Counter(r.file for r in rejects)
    for entry in inputs:
        entry["articles"] = per_file[entry["display"]]
        entry["rejects"] = per_input_rejects[entry["display"]]
    files = {
        "sentences": sentences_name,
        "articles": "articles.csv",
        "sources": "sources.csv",
        "rejects": "rejects.jsonl",
    }
    non_english = int(pa.compute.sum(articles.column("non_english")).as_py() or 0) if articles.num_rows else 0
    empty = (
        int(pa.compute.sum(pa.compute.equal(articles.column("n_sentences"), 0)).as_py() or 0)
        if articles.num_rows
        else 0
    )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "tool": "framing score",
        "command": options.command,
        "format": options.fmt,
        "engine": "remote" if scorer.remote is not None else options.engine,
        "model": {
            "tag": scorer.tag,
            "checksum": scorer.checksum,
            "path": str(scorer.model_dir) if scorer.model_dir else None,
            "url": scorer.remote.url if scorer.remote is not None else None,
            "frames": schema.frame_names,
            "attributions": schema.attribution_names,
        },
        "options": fingerprint["options"] | {"engine": options.engine, "format": options.fmt},
        "inputs": inputs,
        "counts": {
            "input_files": len(inputs),
            "articles": int(articles.num_rows),
            "sentences": len(sources),
            "sources": len(profiles),
            "rejects": len(rejects),
            "rejects_by_reason": dict(sorted(reject_reasons.items())),
            "rejects_by_file": dict(sorted(per_input_rejects.items())),
            "non_english_articles": non_english,
            "articles_without_sentences": empty,
            "chunks": n_chunks,
        },
        "warnings": warnings,
        "outputs": files,
        "fingerprint": fingerprint,
    }
    return RunResult(out, files, manifest, rejects, profiles)


# ------------------------------------------------------------------------ summary
def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:+.2f}"


def _ci(p: dict[str, Any], key: str) -> str:
    lo, hi = p.get(f"{key}_ci") or (None, None)
    return "" if lo is None or hi is None else f"[{lo:+.2f}, {hi:+.2f}]"


def print_summary(result: RunResult, console: Any, max_sources: int = 15) -> None:
    """One screen: counts, rejects by reason, and the per-source slant table."""
    from rich.table import Table

    m, c = result.manifest, result.manifest["counts"]
    run_info = m.get("run", {})
    head = (
        f"[bold]{c['articles']}[/] articles, [bold]{c['sentences']}[/] sentences, {c['sources']} sources "
        f"from {c['input_files']} input file{'s' if c['input_files'] != 1 else ''} → {result.out}"
    )
    if result.already_complete:
        head += " (already complete: nothing re-scored)"
    console.print(head, highlight=False)
    if run_info:
        t = run_info["timings_s"]
        speed = (
            f"{run_info['articles_per_s']} articles/s, {run_info['sentences_per_s']} sentences/s"
            if run_info.get("articles_per_s")
            else "nothing new to score"
        )
        console.print(
            f"scored {run_info['scored_articles']} articles in {t['score']:.1f} s ({speed}); "
            f"resumed {run_info['resumed_articles']} from the checkpoint; total {t['total']:.1f} s",
            highlight=False,
        )
    if c["non_english_articles"] or c["articles_without_sentences"]:
        console.print(
            f"[yellow]{c['non_english_articles']} articles look non-English (labels unreliable), "
            f"{c['articles_without_sentences']} have no content sentences[/] (see articles.csv)",
            highlight=False,
        )
    for w in m.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if result.rejects:
        reasons = ", ".join(f"{n} {r}" for r, n in c["rejects_by_reason"].items())
        console.print(
            f"[bold red]{len(result.rejects)} records rejected[/] ({reasons}); every one is in "
            f"{result.out / result.files['rejects']} with its file, line or row and reason. Exit code 1.",
            highlight=False,
        )
        for r in result.rejects[:5]:
            console.print(f"  {r.where()}: {r.reason}", highlight=False)
        if len(result.rejects) > 5:
            console.print(f"  … {len(result.rejects) - 5} more", highlight=False)
    else:
        console.print("[green]no records rejected[/]")
    table = Table(title="per-source slant (+ = AZ-aligned framing, − = ARM-aligned)", title_justify="left")
    for col in ("source", "sentences", "slant", "95% CI", "adopted slant", "95% CI"):
        table.add_column(col, justify="left" if col == "source" else "right")
    ranked = sorted(result.profiles.items(), key=lambda kv: (-kv[1]["n_sentences"], kv[0]))
    for name, p in ranked[:max_sources]:
        table.add_row(
            name,
            str(p["n_sentences"]),
            _fmt(p.get("slant")),
            _ci(p, "slant"),
            _fmt(p.get("adopted_slant")),
            _ci(p, "adopted_slant"),
        )
    if len(ranked) > max_sources:
        table.caption = f"{len(ranked) - max_sources} more sources in sources.csv"
    if ranked:
        console.print(table)
    console.print(
        "outputs: "
        + ", ".join(result.files[k] for k in ("sentences", "articles", "sources", "rejects"))
        + ", manifest.json",
        highlight=False,
    )
