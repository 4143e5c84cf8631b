"""In, step 1: a Label Studio JSON (or JSON-MIN) export or the filled-in tasks.csv, read into raw labels."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.labelstudio.common import (
    ATTRIBUTION,
    CSV_COLUMNS,
    CSV_REQUIRED,
    FORMULA_START,
    FRAME,
    NOTE,
    SECONDARY,
    LabelStudioError,
)


# =========================================================================== in: reading labels
@dataclass(frozen=True)
class RawLabel:
    """One annotator's labels for one task, as found in the file (not yet checked)."""

    where: str  # "export.json task 12" / "tasks.csv line 7": names the file and the task
    data: dict[str, Any]
    annotator: str
    frame: Any
    attribution: Any
    secondary: Any = ()
    note: str = ""


@dataclass(frozen=True)
class Problem:
    """A label that was not kept, and why (one line of the import's rejects)."""

    where: str
    task: str
    kind: str  # missing field | unknown label | span mismatch | duplicate | not a task
    problem: str

    def to_json(self) -> dict[str, str]:
        return {"where": self.where, "task": self.task, "kind": self.kind, "problem": self.problem}

    def __str__(self) -> str:
        return f"{self.where} (task {self.task}): {self.kind}: {self.problem}"


@dataclass
class ReadResult:
    """What the input files held: labels to check, problems found while reading, and counts."""

    labels: list[RawLabel] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    n_tasks: int = 0
    n_unlabelled: int = 0
    n_cancelled: int = 0


def _annotator_name(value: Any, names: dict[str, str]) -> str:
    """An email where Label Studio gave one; a numeric user id mapped by ``--annotator-name``, else ``user-<id>``."""
    if isinstance(value, dict):
        value = value.get("email") or value.get("username") or value.get("id")
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    text = str(value).strip()
    return names.get(text, f"labelstudio-user-{text}" if text.isdigit() else text)


def _choices_of(result: Any) -> dict[str, Any]:
    """from_name -> chosen values (choices list or textarea text) of one annotation's result list."""
    out: dict[str, Any] = {}
    if not isinstance(result, list):
        return out
    for item in result:
        if not isinstance(item, dict):
            continue
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        name = item.get("from_name")
        if "choices" in value:
            out[name] = value["choices"]
        elif "text" in value:
            out[name] = value["text"]
    return out


def _first(value: Any) -> Any:
    """A single choice from a Label Studio value: ``["x"]`` -> ``"x"`` (a list of several stays a list)."""
    if isinstance(value, dict) and "choices" in value:
        value = value["choices"]
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def task_label(data: dict[str, Any], fallback: Any) -> str:
    return str(data.get("task_id") or fallback)


def _read_ls_json(path: Path, names: dict[str, str], result: ReadResult) -> None:
    """A Label Studio JSON export (tasks with ``annotations``) or JSON-MIN (one flat record per annotation)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise LabelStudioError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); export it again") from None
    except json.JSONDecodeError as exc:
        raise LabelStudioError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno}); expected Label Studio's "
            "JSON export (Export -> JSON), a list of tasks"
        ) from None
    if isinstance(tasks, dict) and isinstance(tasks.get("tasks"), list):
        tasks = tasks["tasks"]
    if not isinstance(tasks, list):
        raise LabelStudioError(
            f"{path}: expected a JSON list of tasks (Label Studio's JSON export), found a {type(tasks).__name__}"
        )
    for k, task in enumerate(tasks):
        where = f"{path.name} task #{k + 1}"
        result.n_tasks += 1
        if not isinstance(task, dict):
            result.problems.append(Problem(where, "?", "not a task", f"expected an object, found {task!r:.60}"))
            continue
        if "annotations" not in task and "data" not in task:  # JSON-MIN: the task's data and its labels, flat
            data = {k2: v for k2, v in task.items() if k2 not in (FRAME, ATTRIBUTION, SECONDARY, NOTE)}
            where = f"{path.name} task {task.get('id', '#' + str(k + 1))}"
            if task.get(FRAME) is None and task.get(ATTRIBUTION) is None:
                result.n_unlabelled += 1
                continue
            result.labels.append(
                RawLabel(
                    where,
                    data,
                    _annotator_name(task.get("annotator"), names),
                    _first(task.get(FRAME)),
                    _first(task.get(ATTRIBUTION)),
                    as_list(task.get(SECONDARY)),
                    cell_text(task.get(NOTE)),
                )
            )
            continue
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        where = f"{path.name} task {task.get('id', '#' + str(k + 1))}"
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            result.problems.append(Problem(where, task_label(data, "?"), "not a task", "'annotations' is not a list"))
            continue
        submitted = 0
        for ann in annotations:
            if not isinstance(ann, dict):
                continue
            if ann.get("was_cancelled"):  # the annotator pressed Skip: no label, not an error
                result.n_cancelled += 1
                continue
            submitted += 1
            chosen = _choices_of(ann.get("result"))
            result.labels.append(
                RawLabel(
                    f"{where} annotation {ann.get('id', '?')}",
                    data,
                    _annotator_name(ann.get("completed_by"), names),
                    _first(chosen.get(FRAME)),
                    _first(chosen.get(ATTRIBUTION)),
                    as_list(chosen.get(SECONDARY)),
                    cell_text(chosen.get(NOTE)),
                )
            )
        if not submitted:
            result.n_unlabelled += 1


def as_list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, dict) and "choices" in value:
        value = value["choices"]
    if isinstance(value, str):
        return tuple(p.strip() for p in re.split(r"[;,|]", value) if p.strip())
    if isinstance(value, list):
        return tuple(str(_first(v)) for v in value if v not in (None, ""))
    return (str(value),)


def cell_text(value: Any) -> str:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return str(value).strip() if value is not None else ""


def _unneutralise(cell: str) -> str:
    """Undo :func:`_spreadsheet_safe`: ``'=x`` back to ``=x`` (the export added the quote, not the data)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_START else cell


def _sniff_delimiter(header: str) -> str:
    """',' unless the header line uses ';' or a tab instead (a spreadsheet saved in a comma-decimal locale)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _read_csv(path: Path, default_annotator: str | None, result: ReadResult) -> None:
    """The filled-in tasks.csv (or Label Studio's CSV export, which has the same data columns)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelStudioError(
            f"{path}: not UTF-8 (byte 0x{path.read_bytes()[exc.start]:02x} at {exc.start}); save it from the "
            "spreadsheet as 'CSV UTF-8'"
        ) from None
    if not text.strip():
        raise LabelStudioError(
            f"{path}: the file is empty; expected the tasks.csv written by 'framing annotate export'"
        )
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text.split("\n", 1)[0]))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise LabelStudioError(
            f"{path}: no column(s) {missing} (it has {header}); expected the tasks.csv written by 'framing annotate "
            f"export' with its columns {list(CSV_COLUMNS)}, the frame and attribution columns filled in"
        )
    for row in reader:
        line = reader.line_num
        result.n_tasks += 1
        row = {k: _unneutralise(v.strip()) if isinstance(v, str) else v for k, v in row.items() if k}
        if not row.get(FRAME) and not row.get(ATTRIBUTION):
            result.n_unlabelled += 1
            continue
        data = dict(row)
        for key in ("start", "end", "rank", "sentence_index"):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                data[key] = int(str(data[key]))
        result.labels.append(
            RawLabel(
                f"{path.name} line {line}",
                data,
                row.get("annotator") or default_annotator or "",
                row.get(FRAME) or None,
                row.get(ATTRIBUTION) or None,
                as_list(row.get(SECONDARY)),
                row.get(NOTE) or "",
            )
        )


def read_labels(
    paths: Sequence[Path], *, annotator_names: dict[str, str] | None = None, default_annotator: str | None = None
) -> ReadResult:
    """Every label in the given Label Studio exports (``.json``) and filled-in CSVs (``.csv``)."""
    names = {str(k): v for k, v in (annotator_names or {}).items()}
    result = ReadResult()
    if not paths:
        raise LabelStudioError("no input given: pass a Label Studio JSON export or a filled-in tasks.csv")
    for path in paths:
        if not path.is_file():
            raise LabelStudioError(f"{path} does not exist; pass a Label Studio JSON export or a filled-in tasks.csv")
        suffix = path.suffix.lower()
        if suffix == ".json":
            _read_ls_json(path, names, result)
        elif suffix in (".csv", ".tsv"):
            _read_csv(path, default_annotator, result)
        else:
            raise LabelStudioError(
                f"{path}: unsupported file type {suffix or '(none)'}; expected a Label Studio JSON export (.json) or "
                "the filled-in tasks.csv (.csv)"
            )
    return result
