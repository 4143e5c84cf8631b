"""Step 1, resolve: which files to read, their kinds, checksums, the ``sources.csv`` sidecar of a
folder of .txt and .html files, and the table columns to use (a missing column is a usage error up front).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from serving.batch.records import DOCUMENTS, SIDECAR, SIDECAR_KEYS, SUFFIXES, InputFile, UsageError


# --------------------------------------------------------------------------- inputs
def _kind_of(path: Path) -> tuple[str | None, bool]:
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    return (SUFFIXES.get(suffixes[-1]) if suffixes else None), gz


def strip_suffix(name: str) -> str:
    """The article id of a file: its name without ``.txt``/``.html``/``.htm`` (and ``.gz``)."""
    for suffix in (".txt.gz", ".txt", ".html.gz", ".html", ".htm.gz", ".htm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def resolve_inputs(paths: Iterable[Path]) -> list[InputFile]:
    """Expand folders to their ``.txt`` and ``.html`` files (sorted, recursive); check every path is readable."""
    files: list[InputFile] = []
    paths = list(paths)
    if not paths:
        raise UsageError("no INPUT given: pass a folder of .txt or .html files, or .jsonl/.csv/.parquet files")
    for given in paths:
        if not given.exists():
            raise UsageError(f"input {given} does not exist")
        if given.is_dir():
            found = sorted(
                p
                for p in given.rglob("*")
                if p.is_file() and _kind_of(p)[0] in DOCUMENTS and not p.name.startswith(".")
            )
            if not found:
                others = sorted({"".join(p.suffixes) for p in given.rglob("*") if p.is_file() and _kind_of(p)[0]})
                hint = (
                    f"; it holds {', '.join(others)} files: pass them as inputs (e.g. {given}/*.jsonl)"
                    if others
                    else ""
                )
                raise UsageError(f"folder {given} has no .txt or .html files (nor .txt.gz, .html.gz){hint}")
            for p in found:
                kind, gz = _kind_of(p)
                files.append(InputFile(p, str(kind), gz, p.relative_to(given).as_posix(), str(given), given))
            continue
        kind, gz = _kind_of(given)
        if kind is None:
            raise UsageError(
                f"unsupported input {given}: expected a folder of .txt or .html files, or a .txt, .html, .htm, "
                ".jsonl, .csv or .parquet file (optionally .gz)"
            )
        files.append(InputFile(given, kind, gz, str(given), str(given), given.parent if kind in DOCUMENTS else None))
    seen: dict[Path, str] = {}
    for f in files:
        key = f.path.resolve()
        if key in seen:
            raise UsageError(f"{f.path} is given twice (also via {seen[key]}); every file may be read once")
        seen[key] = f.given
        if not os.access(f.path, os.R_OK):
            raise UsageError(f"cannot read {f.path}: permission denied")
    return files


def open_binary(f: InputFile) -> IO[bytes]:
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
    """``sources.csv`` beside .txt or .html files: per-file source (and optional title, date, url)."""

    path: Path
    rows: dict[str, dict[str, str]]

    def lookup(self, rel: str) -> dict[str, str] | None:
        for key in (rel, strip_suffix(rel), Path(rel).name, strip_suffix(Path(rel).name)):
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
                    f"{path} needs a 'source' column and one of {list(SIDECAR_KEYS)} naming each .txt or .html file; "
                    f"it has columns {header}"
                )
            rows = {str(r[key]).strip(): r for r in reader if r.get(key)}
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc}); re-save it as UTF-8") from None
    except csv.Error as exc:
        raise UsageError(f"{path} is not valid CSV: {exc}") from None
    return Sidecar(path, rows)
