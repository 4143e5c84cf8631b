"""Atomic writes: a reader, or a resumed run, never sees a half-written file."""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


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
