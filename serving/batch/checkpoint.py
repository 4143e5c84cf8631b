"""``OUT/.checkpoint/``: finished chunks, the run's fingerprint, and the guard against mixing runs in one folder."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from serving.batch.atomic import atomic_path, write_text_atomic
from serving.batch.chunk import ChunkResult
from serving.batch.engines import Scorer
from serving.batch.records import (
    CHECKPOINT_DIR,
    FINGERPRINT_FILE,
    OUTPUT_DIRS,
    OUTPUT_FILES,
    SENTENCES,
    Reject,
    RunResult,
    ScoreOptions,
    UsageError,
)
from serving.scoring import N_BOOT


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


def run_fingerprint(
    options: ScoreOptions, inputs: list[dict[str, Any]], scorer: Scorer, html: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What makes two runs' chunks interchangeable: inputs, model and the options that change results.

    ``html``: the extractor and size limit, when some input holds HTML (another trafilatura version
    may cut a page differently); absent otherwise, so plain-text runs keep their fingerprint.
    ``--period`` is not here: it changes only timeline.csv, computed at the end from all chunks.
    """
    fingerprint: dict[str, Any] = {
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
    if html is not None:
        fingerprint["options"]["html"] = html
    return fingerprint


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def check_out_dir(options: ScoreOptions, fingerprint: dict[str, Any]) -> RunResult | None:
    """Refuse to mix two runs in one folder; a finished identical run is answered from its manifest."""
    out, ckpt = options.out, Checkpoint(options.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    if options.restart:
        ckpt.remove()
        for name in OUTPUT_FILES:
            (out / name).unlink(missing_ok=True)
        for name in OUTPUT_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
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
        period = manifest.get("options", {}).get("period") if isinstance(manifest.get("options"), dict) else None
        if manifest.get("fingerprint") != fingerprint or manifest.get("format") != options.fmt:
            raise UsageError(
                f"{out} already holds the outputs of another run (manifest.json); rerun with --restart to replace "
                "them, or choose another --out"
            )
        if period != options.period:
            raise UsageError(
                f"{out} already holds the outputs of this run with --period {period}; rerun with --restart to redo "
                f"them with --period {options.period}, or choose another --out"
            )
        files = manifest.get("outputs", {})
        if all((out / name).exists() for name in files.values()):
            rejects = [Reject(**r) for r in _read_jsonl_rows(out / files["rejects"])] if "rejects" in files else []
            from model.profiles import profiles_from_rows

            with open(out / files["sources"], encoding="utf-8", newline="") as fh:
                profiles = profiles_from_rows(list(csv.DictReader(fh)))
            return RunResult(out, files, manifest, rejects, profiles, already_complete=True)
    return None


def _read_jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
