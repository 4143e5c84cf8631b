"""What flows between the steps of a batch run: options, records, rejects, errors and exit codes.

Every other module of the package imports from here; this one imports none of them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ------------------------------------------------------------------------ constants
TXT, HTML, JSONL, CSV, PARQUET = "txt", "html", "jsonl", "csv", "parquet"
SUFFIXES = {
    ".txt": TXT,
    ".html": HTML,
    ".htm": HTML,
    ".jsonl": JSONL,
    ".ndjson": JSONL,
    ".csv": CSV,
    ".parquet": PARQUET,
}
DOCUMENTS = (TXT, HTML)  # one article per file: found in folders, id from the file name, sidecar metadata
SIDECAR = "sources.csv"
SIDECAR_KEYS = ("file", "article_id", "id", "doc_id")
CHECKPOINT_DIR = ".checkpoint"
FINGERPRINT_FILE = "fingerprint.json"
FORMATS = ("parquet", "csv")
ENGINES = ("local", "ray")
SENTENCES = "sentences"
OUTPUT_FILES = (
    "sentences.parquet",
    "sentences.csv",
    "articles.csv",
    "sources.csv",
    "timeline.csv",
    "extracted.csv",
    "rejects.jsonl",
    "manifest.json",
)
EXTRACTED_DIR = "extracted"  # OUT/extracted/<article id>.txt: the text extracted from each HTML page
OUTPUT_DIRS = (EXTRACTED_DIR,)
MAX_HTML_BYTES = 5_000_000  # --max-html-bytes: a bigger page is a reject (trafilatura's own cap is 20 MB)
MANIFEST_VERSION = 1
EXIT_OK, EXIT_REJECTS, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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
    record: str  # "line 3", "row 0" or "" for a .txt or .html file
    # Only for an article extracted from HTML: author, site name, how the bytes were decoded and which
    # fields the page filled (``html.Extracted.info``); None for plain text, so its outputs are unchanged.
    html: dict[str, Any] | None = field(default=None, hash=False)

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
    html: str | None = None  # the column holding HTML pages; None: "html" if present


DEFAULT_OPTIONAL = {"id": ("id",), "title": ("title",), "date": ("published", "date"), "url": ("url",)}
HTML_COLUMN = "html"


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
    api_key: str | None = field(default=None, repr=False)  # --url: never written to the manifest or logs
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
    max_html_bytes: int = MAX_HTML_BYTES
    period: str = "week"  # timeline.csv buckets: model.timeline.PERIODS
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


# ------------------------------------------------------------------------ result
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
