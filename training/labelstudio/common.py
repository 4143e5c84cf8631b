"""What both directions share: the names tasks carry out and bring back, the error, atomic folders."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- names shared by both directions
SENTENCE, CONTEXT = "sentence", "context"  # the <Text> objects the controls label
FRAME, ATTRIBUTION, SECONDARY, NOTE = "frame", "attribution", "secondary_frames", "note"  # the controls
TASKS_JSON, LABEL_CONFIG, TASKS_CSV = "tasks.json", "label_config.xml", "tasks.csv"
ARTICLES_DIR, ARTICLES_CSV, SCHEMA_FILE, MANIFEST, REJECTS = (
    "articles",
    "articles.csv",
    "schema.yaml",
    "manifest.json",
    "rejects.jsonl",
)
ARTICLE_COLUMNS = ("doc_id", "article_id", "source", "title", "published", "url", "file")
CSV_COLUMNS = (
    "task_id",
    "rank",
    "doc_id",
    "source",
    "start",
    "end",
    "sentence_index",
    SENTENCE,
    CONTEXT,
    "predicted_frame",
    "predicted_frame_p",
    "predicted_attribution",
    "predicted_attribution_p",
    "margin",
    FRAME,
    ATTRIBUTION,
    SECONDARY,
    NOTE,
    "annotator",
)
CSV_REQUIRED = ("doc_id", "start", "end", SENTENCE, FRAME, ATTRIBUTION)
ORDERS = ("uncertainty", "document", "random")
DISAGREEMENTS = "disagreements.jsonl"
IMPORT_REPORT = "import_report.json"
FORMULA_START = ("=", "+", "-", "@")  # a spreadsheet would run a cell starting with these


class LabelStudioError(ValueError):
    """A problem that stops an export or import; the message says what was expected, what was found and the fix."""


# =========================================================================== atomic folders
def check_out_folder(target: Path, *, overwrite: bool) -> None:
    """Refuse, before any work, an output path that is a file or a folder already holding files (unless overwrite)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise LabelStudioError(f"--out {target} is a file; pass a folder path (it is created)")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise LabelStudioError(
            f"--out {target} already holds files; pass a new folder, or --overwrite to replace it whole"
        )


@contextlib.contextmanager
def atomic_folder(target: Path, *, overwrite: bool) -> Iterator[Path]:
    """A temporary folder beside ``target``, renamed onto it only when the block finishes.

    Why: a half-written seeds folder would train a model on half the labels, or pass a
    checksum check it should fail. An error inside the block removes the temporary folder
    and leaves ``target`` as it was. ``target`` may already exist only with ``overwrite``
    (then it is replaced whole, never merged).
    """
    target = Path(target)
    check_out_folder(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], *, bom: bool = False) -> None:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
