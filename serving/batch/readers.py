"""Step 2, read and validate: every record of every input becomes an ``ArticleRecord`` or a ``Reject``.

Why one generator (``scan``) serves both passes: pass 1 counts and collects rejects, pass 2
reads the same records again in the same order, so the chunks are the same on every run.
HTML (a ``.html`` file or an ``html`` column) is turned into text here (``html.extract_html``),
in both passes: extraction is deterministic, so both passes see the same article.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from model.text import has_control_characters
from serving.batch.inputs import Sidecar, open_binary, strip_suffix
from serving.batch.records import (
    CSV,
    DEFAULT_OPTIONAL,
    DOCUMENTS,
    HTML,
    HTML_COLUMN,
    JSONL,
    MAX_HTML_BYTES,
    PARQUET,
    ArticleRecord,
    Columns,
    InputFile,
    Reject,
    UsageError,
)
from serving.html import Extracted, extract_html

_UNDECODABLE_RE = re.compile("[\udc80-\udcff]")  # undecodable bytes, as errors="surrogateescape" decodes them


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
    """The column names one table file actually uses (``text``, ``html`` or both; at least one)."""

    text: str | None
    source: str | None
    id: str | None
    title: str | None
    date: str | None
    url: str | None
    html: str | None = None


def _table_columns(f: InputFile, header: list[str], cols: Columns, source: str | None) -> _TableColumns:
    """Check the requested columns against ``header``; a missing required column is a UsageError."""
    have = f"columns: {header}" if header else "no columns"

    def need(name: str, option: str) -> str:
        if name not in header:
            raise UsageError(f"{f.display} has no column '{name}' ({have}); choose one with {option}")
        return name

    html: str | None = need(cols.html, "--html-col") if cols.html is not None else None
    if html is None and HTML_COLUMN in header:
        html = HTML_COLUMN
    text: str | None = cols.text if cols.text in header else None
    if text is None and cols.text != Columns().text:  # a --text-col the user named must exist
        need(cols.text, "--text-col")
    if text is None and html is None:
        raise UsageError(
            f"{f.display} has no column '{cols.text}' ({have}); choose one with --text-col, or give HTML pages in "
            f"an '{HTML_COLUMN}' column (--html-col)"
        )
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
    return _TableColumns(text, src, chosen["id"], chosen["title"], chosen["date"], chosen["url"], html)


def _given(value: Any) -> bool:
    """A cell counts as given unless it is missing, null or only whitespace (CSV has no null: "")."""
    return value is not None and not (isinstance(value, (str, bytes)) and not value.strip())


def _check_html(value: Any, col: str) -> str | None:
    """Why ``value`` is not a usable HTML page, or None (size and content are checked by the extraction)."""
    if isinstance(value, bytes):  # a Parquet binary column: decoded with the page's own charset
        return None
    if not isinstance(value, str):
        return f"wrong type: '{col}' must be a string, found {_type_name(value)} ({str(value)[:40]!r})"
    if _UNDECODABLE_RE.search(value):
        return f"undecodable bytes in '{col}': not valid UTF-8; re-save the file as UTF-8"
    return None


def _table_text(
    tc: _TableColumns, values: dict[str, Any], max_html_bytes: int
) -> tuple[str | None, Extracted | None, str | None]:
    """(article text, the page it was extracted from, problem) of one table record.

    A record carries its article in ``text`` or in ``html``: both, or neither, is a reject.
    """
    if tc.html is None:  # a table without HTML: exactly the checks it always had
        problem = _check_text(values.get(tc.text), str(tc.text))
        return (None, None, problem) if problem else (values[str(tc.text)], None, None)
    has_text = tc.text is not None and _given(values.get(tc.text))
    has_html = _given(values.get(tc.html))
    if has_text and has_html:
        both = (
            f"both '{tc.text}' and '{tc.html}' given: a record carries its article as plain text or as an HTML "
            "page, not both; empty one of them"
        )
        return None, None, both
    if not has_text and not has_html:
        cols = f"'{tc.text}' or '{tc.html}'" if tc.text else f"'{tc.html}'"
        return None, None, f"missing text: no {cols} value (a record needs one of them)"
    if has_text:
        problem = _check_text(values[str(tc.text)], str(tc.text))
        return (None, None, problem) if problem else (values[str(tc.text)], None, None)
    problem = _check_html(values[tc.html], tc.html)
    if problem:
        return None, None, problem
    page = extract_html(values[tc.html], max_bytes=max_html_bytes)
    if isinstance(page, str):
        return None, None, page
    problem = _check_text(page.text, tc.html)
    return (None, None, problem) if problem else (page.text, page, None)


def _html_info(page: Extracted, filled: list[str]) -> dict[str, Any]:
    """What ``ArticleRecord.html`` keeps of an extraction (the extracted.csv row's extra fields)."""
    return {
        "author": page.author,
        "sitename": page.sitename,
        "encoding": page.encoding,
        "from_page": ";".join(filled),
    }


def _record_to_article(
    f: InputFile,
    tc: _TableColumns,
    values: dict[str, Any],
    loc: dict[str, int],
    default_source: str | None,
    max_html_bytes: int = MAX_HTML_BYTES,
) -> ArticleRecord | Reject:
    """Validate one table record; the first problem found becomes the reject's reason."""
    [(where_key, where_n)] = loc.items()
    rid: str | None = None
    if tc.id:
        rid, problem = _optional_str(values.get(tc.id), tc.id)
        if problem:
            return Reject(f.display, problem, **loc)
    rid = rid or f"{f.display}:{where_n}"
    text, page, problem = _table_text(tc, values, max_html_bytes)
    if problem:
        return Reject(f.display, problem, id=rid, **loc)
    assert text is not None
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
    info = None
    if page is not None:
        filled = _fill_from_page(extras, page)
        info = _html_info(page, filled)
    return ArticleRecord(
        rid,
        src,
        text,
        extras["title"],
        extras["date"],
        extras["url"],
        f.display,
        f"{where_key} {where_n}",
        info,
    )


def _fill_from_page(extras: dict[str, str | None], page: Extracted) -> list[str]:
    """Fill the metadata the user did not give from the page (a column or sidecar value wins); what was filled."""
    filled = []
    for key, value in (("title", page.title), ("date", page.published), ("url", page.url)):
        if extras.get(key) is None and value is not None:
            extras[key] = value
            filled.append("published" if key == "date" else key)
    return filled


def _csv_reader(fh: IO[bytes]) -> Any:
    """A csv reader that never fails on bytes: undecodable ones become surrogates, caught per record."""
    csv.field_size_limit(sys.maxsize)
    return csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="surrogateescape", newline=""))


def _jsonl_keys(f: InputFile) -> set[str]:
    """Every key of every JSON object line (the file's "columns"); unreadable lines are skipped here."""
    keys: set[str] = set()
    with contextlib.suppress(OSError, EOFError), open_binary(f) as fh:
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
                with open_binary(f) as fh:
                    header = next(_csv_reader(fh), None)
            except (csv.Error, OSError, EOFError) as exc:
                raise UsageError(f"cannot read the header of {f.display}: {exc}") from None
            if header is None:
                raise UsageError(f"{f.display} is empty: expected a header row with a '{cols.text}' column")
            out[f.path] = _table_columns(f, [h.strip() for h in header], cols, source)
        elif f.kind == PARQUET:
            try:
                with open_binary(f) as fh:
                    names = list(pq.ParquetFile(io.BytesIO(fh.read()) if f.gz else fh).schema_arrow.names)
            except (OSError, EOFError, pa.ArrowException) as exc:
                raise UsageError(f"cannot read {f.display} as Parquet: {exc}") from None
            out[f.path] = _table_columns(f, names, cols, source)
    return out


# --------------------------------------------------------------------------- readers
def _read_document(
    f: InputFile, source: str | None, sidecar: Sidecar | None, max_html_bytes: int = MAX_HTML_BYTES
) -> Iterator[ArticleRecord | Reject]:
    """One article per file: a UTF-8 ``.txt``, or an ``.html`` page whose main text is extracted."""
    # The id: the path inside the folder given (nested folders kept), or the stem of a file given directly.
    article_id = strip_suffix(f.path.name if f.display == f.given else f.display)
    try:
        with open_binary(f) as fh:
            # An HTML page is read one byte past the limit only: a huge (or decompression-bomb) page costs no memory.
            data = fh.read(max_html_bytes + 1) if f.kind == HTML else fh.read()
    except (OSError, EOFError) as exc:
        yield Reject(f.display, f"cannot read file: {exc}", id=article_id)
        return
    page: Extracted | None = None
    if f.kind == HTML:
        if len(data) > max_html_bytes:
            yield Reject(
                f.display,
                f"HTML page too large: over the limit of {max_html_bytes:,} bytes (--max-html-bytes); raise the "
                "limit if the page really is one article",
                id=article_id,
            )
            return
        extracted = extract_html(data, max_bytes=max_html_bytes)
        if isinstance(extracted, str):
            yield Reject(f.display, extracted, id=article_id)
            return
        page, text = extracted, extracted.text
    else:
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
    extras: dict[str, str | None] = {
        "title": (meta.get("title") or "").strip() or None,
        "date": (meta.get("published") or meta.get("date") or "").strip() or None,
        "url": (meta.get("url") or "").strip() or None,
    }
    info = _html_info(page, _fill_from_page(extras, page)) if page is not None else None
    yield ArticleRecord(article_id, src, text, extras["title"], extras["date"], extras["url"], f.display, "", info)


def _read_jsonl(
    f: InputFile, tc: _TableColumns | None, source: str | None, max_html_bytes: int = MAX_HTML_BYTES
) -> Iterator[ArticleRecord | Reject]:
    """One JSON object per line; blank lines are skipped, every other line is an article or a reject."""
    n = 0
    try:
        with open_binary(f) as fh:
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
                yield _record_to_article(f, tc, obj, {"line": n}, source, max_html_bytes)
    except (OSError, EOFError) as exc:  # e.g. a truncated .gz: the lines read so far still count
        yield Reject(f.display, f"cannot read the rest of the file: {exc}", line=n + 1)


def _read_csv(
    f: InputFile, tc: _TableColumns, source: str | None, max_html_bytes: int = MAX_HTML_BYTES
) -> Iterator[ArticleRecord | Reject]:
    with open_binary(f) as fh:
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
            values = dict(zip(header, row, strict=True))
            yield _record_to_article(f, tc, values, {"line": start}, source, max_html_bytes)


def _read_parquet(
    f: InputFile, tc: _TableColumns, source: str | None, max_html_bytes: int = MAX_HTML_BYTES
) -> Iterator[ArticleRecord | Reject]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = sorted({c for c in (tc.text, tc.source, tc.id, tc.title, tc.date, tc.url, tc.html) if c})
    row = 0
    try:
        with open_binary(f) as fh:
            pfile = pq.ParquetFile(io.BytesIO(fh.read()) if f.gz else fh)
            for batch in pfile.iter_batches(columns=wanted, batch_size=1024):
                for values in batch.to_pylist():
                    yield _record_to_article(f, tc, values, {"row": row}, source, max_html_bytes)
                    row += 1
    except (OSError, EOFError, pa.ArrowException) as exc:
        yield Reject(f.display, f"cannot read the rest of the file: {exc}", row=row)


def scan(
    files: list[InputFile],
    table_columns: dict[Path, _TableColumns | None],
    source: str | None,
    sidecars: dict[Path, Sidecar | None],
    max_html_bytes: int = MAX_HTML_BYTES,
) -> Iterator[ArticleRecord | Reject]:
    """Every record of every input, in order, as an article or a reject (duplicate ids included)."""
    first_seen: dict[str, str] = {}
    for f in files:
        tc = table_columns.get(f.path)
        if f.kind in DOCUMENTS:
            sidecar = sidecars.get(f.root) if f.root else None
            records: Iterable[ArticleRecord | Reject] = _read_document(f, source, sidecar, max_html_bytes)
        elif f.kind == JSONL:
            records = _read_jsonl(f, tc, source, max_html_bytes)
        elif f.kind == CSV:
            assert tc is not None
            records = _read_csv(f, tc, source, max_html_bytes)
        else:
            assert tc is not None
            records = _read_parquet(f, tc, source, max_html_bytes)
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
