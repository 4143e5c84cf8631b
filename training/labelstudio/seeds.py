"""In, step 3: the seeds folder, written whole or not at all; disagreements set aside for adjudication."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model.schema import Schema, SchemaError, load_schema
from training.labelstudio.check import CheckedLabel, agreement, canonical_label, check_label
from training.labelstudio.common import (
    ARTICLES_CSV,
    ARTICLES_DIR,
    ATTRIBUTION,
    DISAGREEMENTS,
    FRAME,
    IMPORT_REPORT,
    NOTE,
    SCHEMA_FILE,
    SECONDARY,
    LabelStudioError,
    atomic_folder,
    check_out_folder,
    write_csv,
)
from training.labelstudio.read import Problem, as_list, cell_text, read_labels


# =========================================================================== in: the seeds folder
@dataclass
class ImportResult:
    """What ``framing annotate import`` did: counts, kappa, problems, and where it wrote."""

    out: Path
    n_records: int
    n_labels: int
    n_tasks: int
    n_unlabelled: int
    n_cancelled: int
    n_double: int
    n_adjudicated: int
    disagreements: list[dict[str, Any]]
    problems: list[Problem]
    kappa: dict[str, Any]
    annotators: dict[str, int]
    files: dict[str, Path]

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def load_export_folder(folder: Path) -> tuple[dict[str, str | None], dict[str, dict[str, str]]]:
    """(doc_id -> article text, doc_id -> articles.csv row) of the folder ``framing annotate export`` wrote."""
    arts = folder / ARTICLES_DIR
    if not arts.is_dir():
        raise LabelStudioError(
            f"--articles {folder} has no {ARTICLES_DIR}/ folder; pass the folder 'framing annotate export' wrote "
            "(it holds articles/<doc_id>.txt, the texts the tasks' offsets point into)"
        )
    texts: dict[str, str | None] = {}
    for p in sorted(arts.glob("*.txt")):
        try:
            texts[p.stem] = p.read_text(encoding="utf-8")  # universal newlines, as the seed loader reads
        except UnicodeDecodeError:
            texts[p.stem] = None
    meta: dict[str, dict[str, str]] = {}
    if (folder / ARTICLES_CSV).is_file():
        with open(folder / ARTICLES_CSV, encoding="utf-8", newline="") as fh:
            meta = {r["doc_id"]: r for r in csv.DictReader(fh) if r.get("doc_id")}
    return texts, meta


def _seed_record(lab: CheckedLabel, sentence_id: str, annotator: str, note: str = "") -> dict[str, Any]:
    return {
        "doc_id": lab.doc_id,
        "source": lab.source,
        "sentence_id": sentence_id,
        "start": lab.start,
        "end": lab.end,
        "text": lab.text,
        "frame": lab.frame,
        "secondary_frames": list(lab.secondary),
        "attribution": lab.attribution,
        "note": note,
        "annotator": annotator,
    }


def _read_adjudication(path: Path, schema: Schema) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Decisions on set-aside sentences: disagreements.jsonl lines with ``frame`` and ``attribution`` filled in."""
    if not path.is_file():
        raise LabelStudioError(f"--adjudication {path} does not exist")
    out: dict[tuple[str, int, int], dict[str, Any]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelStudioError(f"{where}: not valid JSON ({exc.msg})") from None
        missing = [k for k in ("doc_id", "start", "end", FRAME, ATTRIBUTION) if rec.get(k) in (None, "")]
        if missing:
            raise LabelStudioError(
                f"{where}: no {missing}; copy the line from agreement/{DISAGREEMENTS} and add the decided "
                "'frame' and 'attribution' (and 'adjudicator')"
            )
        frame = canonical_label(str(rec[FRAME]), schema.frame_names)
        attribution = canonical_label(str(rec[ATTRIBUTION]), schema.attribution_names)
        if frame is None or attribution is None:
            raise LabelStudioError(
                f"{where}: {rec[FRAME]!r}/{rec[ATTRIBUTION]!r} not in schema {schema.name!r} (frames "
                f"{schema.frame_names}, attributions {schema.attribution_names})"
            )
        out[(str(rec["doc_id"]), int(rec["start"]), int(rec["end"]))] = rec | {FRAME: frame, ATTRIBUTION: attribution}
    return out


def _fatal_summary(problems: Sequence[Problem], schema: Schema, n_labels: int) -> str:
    kinds = Counter(p.kind for p in problems)
    lines = [f"none of the {n_labels} labels could be used ({', '.join(f'{n} {k}' for k, n in kinds.items())})."]
    if kinds.get("unknown label", 0) >= max(1, n_labels // 2):
        found = sorted({m.group(1) for p in problems if (m := re.search(r"'([^']+)' is not in schema", p.problem))})
        lines.append(
            f"The labels {found[:8]} are not in schema {schema.name!r} (frames {schema.frame_names}, attributions "
            f"{schema.attribution_names}): this export looks like it comes from another project or another schema. "
            "Export the right project, or pass the matching --schema."
        )
    lines += [f"  {p}" for p in problems[:5]]
    if len(problems) > 5:
        lines.append(f"  ... and {len(problems) - 5} more")
    return "\n".join(lines)


def import_annotations(
    inputs: Sequence[Path],
    *,
    articles_dir: Path,
    schema_path: Path,
    out: Path,
    annotator_names: dict[str, str] | None = None,
    default_annotator: str | None = None,
    adjudication: Path | None = None,
    strict: bool = False,
    overwrite: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> ImportResult:
    """Label Studio export(s) or filled-in CSVs -> a seeds folder the seed loader, ``framing data`` and
    ``framing train --seeds`` read. Nothing is written unless every step succeeds.

    Labels that break a seed-loader rule are listed (``import_report.json``) and the rest kept;
    with ``strict`` any such label stops the import. Sentences whose annotators disagree on
    frame or attribution go to ``agreement/disagreements.jsonl`` and stay out of
    ``annotations.jsonl`` until an ``adjudication`` file decides them.
    """
    from training.annotations import AnnotationError, load_seed_annotations
    from training.dataset import SeedPaths, write_checksums

    check_out_folder(out, overwrite=overwrite)
    try:
        schema = load_schema(schema_path)
    except SchemaError as exc:
        raise LabelStudioError(str(exc)) from None
    schema_text = Path(schema_path).read_text(encoding="utf-8")
    texts, meta = load_export_folder(articles_dir)
    read = read_labels(inputs, annotator_names=annotator_names, default_annotator=default_annotator)
    if not read.labels and not read.problems:
        raise LabelStudioError(
            f"{', '.join(str(p) for p in inputs)}: no labelled task ({read.n_tasks} tasks, {read.n_unlabelled} without "
            f"a submitted annotation, {read.n_cancelled} skipped). Label some tasks, then export again "
            "(Label Studio: Export -> JSON; in tasks.csv fill the frame and attribution columns)"
        )
    problems = list(read.problems)
    sources = {d: r.get("source", "") for d, r in meta.items()}
    checked: list[CheckedLabel] = []
    seen: dict[tuple[str, int, int, str], str] = {}
    for raw in read.labels:
        got = check_label(raw, schema, texts, sources)
        if isinstance(got, Problem):
            problems.append(got)
            continue
        dup = (*got.key, got.annotator)
        if dup in seen:
            problems.append(
                Problem(
                    got.where,
                    got.task,
                    "duplicate",
                    f"{got.annotator} labelled this sentence again (first in {seen[dup]}); the first label is kept",
                )
            )
            continue
        seen[dup] = got.where
        checked.append(got)
    if strict and problems:
        raise LabelStudioError(
            f"--strict: {len(problems)} label(s) break the seed rules; nothing was written. First: {problems[0]}"
        )
    decisions = _read_adjudication(adjudication, schema) if adjudication else {}
    groups: dict[tuple[str, int, int], list[CheckedLabel]] = defaultdict(list)
    for lab in checked:
        groups[lab.key].append(lab)
    if not groups:
        raise LabelStudioError(_fatal_summary(problems, schema, len(read.labels)))

    records: list[dict[str, Any]] = []
    disagreements: list[dict[str, Any]] = []
    first_pass: list[dict[str, Any]] = []
    second_pass: list[dict[str, Any]] = []
    used_ids: set[str] = set()
    n_adjudicated = 0
    for key in sorted(groups):
        labels = sorted(groups[key], key=lambda lab: lab.annotator)
        lab = labels[0]
        sid = (
            f"{lab.doc_id}-{lab.sentence_index:03d}" if lab.sentence_index is not None else f"{lab.doc_id}@{lab.start}"
        )
        if sid in used_ids:
            sid = f"{lab.doc_id}@{lab.start}-{lab.end}"
        used_ids.add(sid)
        people = [x.annotator for x in labels]
        if len(labels) >= 2:
            for sink, x in ((first_pass, labels[0]), (second_pass, labels[1])):
                sink.append(
                    {"sentence_id": sid, "doc_id": x.doc_id, "text": x.text, FRAME: x.frame, ATTRIBUTION: x.attribution}
                    | {"annotator": x.annotator}
                )
        differs = [t for t in (FRAME, ATTRIBUTION) if len({getattr(x, t) for x in labels}) > 1]
        if differs:
            decision = decisions.get(key)
            if decision is None:
                disagreements.append(
                    {
                        "sentence_id": sid,
                        "task_id": lab.task,
                        "doc_id": lab.doc_id,
                        "source": lab.source,
                        "start": lab.start,
                        "end": lab.end,
                        "text": lab.text,
                        "differs": differs,
                        "labels": [
                            {
                                "annotator": x.annotator,
                                FRAME: x.frame,
                                ATTRIBUTION: x.attribution,
                                SECONDARY: list(x.secondary),
                                NOTE: x.note,
                                "where": x.where,
                            }
                            for x in labels
                        ],
                    }
                )
                continue
            n_adjudicated += 1
            who = str(decision.get("adjudicator") or "adjudicator")
            secondary = as_list(decision.get(SECONDARY))
            chosen = CheckedLabel(
                lab.where, lab.doc_id, lab.source, lab.sentence_index, lab.start, lab.end, lab.text, who,
                decision[FRAME], decision[ATTRIBUTION],
                tuple(s for s in secondary if s in schema.frame_names and s != decision[FRAME]), "",
            )  # fmt: skip
            note = cell_text(decision.get(NOTE)) or f"adjudicated between {', '.join(people)}"
            records.append(_seed_record(chosen, sid, f"{who} (adjudicated: {', '.join(people)})", note))
            continue
        secondary = tuple(dict.fromkeys(s for x in labels for s in x.secondary if s != lab.frame))
        note = " | ".join(dict.fromkeys(x.note for x in labels if x.note))
        merged = CheckedLabel(
            lab.where, lab.doc_id, lab.source, lab.sentence_index, lab.start, lab.end, lab.text, lab.annotator,
            lab.frame, lab.attribution, secondary, note,
        )  # fmt: skip
        records.append(_seed_record(merged, sid, ", ".join(people), note))
    if not records:  # nothing to train on; the disagreements still go where the adjudicator can read them
        aside = out.with_name(f"{out.name}.{DISAGREEMENTS}")
        aside.parent.mkdir(parents=True, exist_ok=True)
        aside.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in disagreements), encoding="utf-8")
        raise LabelStudioError(
            f"every labelled sentence ({len(disagreements)}) is a disagreement between annotators and none is "
            f"adjudicated, so annotations.jsonl would be empty and no seeds folder was written. The disagreements "
            f"are in {aside}: add the decided 'frame' and 'attribution' to each line and pass it as --adjudication"
        )
    kappa = agreement(groups)
    annotators = Counter(lab.annotator for lab in checked)
    docs = sorted({r["doc_id"] for r in records} | {d["doc_id"] for d in disagreements})
    files: dict[str, Path] = {}
    with atomic_folder(out, overwrite=overwrite) as tmp:
        (tmp / SCHEMA_FILE).write_text(schema_text, encoding="utf-8")
        (tmp / ARTICLES_DIR).mkdir()
        for d in docs:
            with open(tmp / ARTICLES_DIR / f"{d}.txt", "w", encoding="utf-8", newline="") as fh:
                fh.write(texts[d] or "")
        source_of = {r["doc_id"]: r["source"] for r in records} | {d["doc_id"]: d["source"] for d in disagreements}
        write_csv(
            tmp / "sources.csv",
            [
                {
                    "doc_id": d,
                    "source": source_of.get(d) or meta.get(d, {}).get("source", ""),
                    "title": meta.get(d, {}).get("title", ""),
                    "published": meta.get(d, {}).get("published", ""),
                    "url": meta.get(d, {}).get("url", ""),
                    "evidence": f"framing annotate import; originally {meta.get(d, {}).get('file') or 'unknown file'}",
                }
                for d in docs
            ],
            ("doc_id", "source", "title", "published", "url", "evidence"),
        )
        records.sort(key=lambda r: (r["doc_id"], r["start"]))
        (tmp / "annotations.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
        )
        agree_dir = tmp / "agreement"
        agree_dir.mkdir()
        if disagreements:
            (agree_dir / DISAGREEMENTS).write_text(
                "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in disagreements), encoding="utf-8"
            )
        if first_pass:  # the layout eval.agreement reads: one annotator's labels against the other's, by sentence_id
            for name, rows in (("first_pass.jsonl", first_pass), ("second_pass.jsonl", second_pass)):
                (agree_dir / name).write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
                )
        if decisions:  # the decisions applied, kept with the labels they decided (provenance of the gold label)
            (agree_dir / "adjudication.jsonl").write_text(
                "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in decisions.values()), encoding="utf-8"
            )
        if not any(agree_dir.iterdir()):
            agree_dir.rmdir()
        report = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "inputs": [str(p) for p in inputs],
            "articles": str(articles_dir),
            "schema": schema.name,
            "counts": {
                "tasks": read.n_tasks,
                "labels": len(read.labels),
                "unlabelled_tasks": read.n_unlabelled,
                "skipped_annotations": read.n_cancelled,
                "records": len(records),
                "double_annotated": kappa["n_double_annotated"],
                "disagreements": len(disagreements),
                "adjudicated": n_adjudicated,
                "problems": len(problems),
            },
            "annotators": dict(sorted(annotators.items())),
            "kappa": kappa,
            "problems": [p.to_json() for p in problems],
        }
        (tmp / IMPORT_REPORT).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_checksums(SeedPaths(tmp))
        try:  # the loader every later step uses must accept the folder, or nothing is kept
            load_seed_annotations(tmp / "annotations.jsonl", tmp / ARTICLES_DIR, schema)
        except AnnotationError as exc:
            raise LabelStudioError(f"the written annotations failed the seed loader: {exc}") from None
    for name in (SCHEMA_FILE, ARTICLES_DIR, "sources.csv", "annotations.jsonl", IMPORT_REPORT, "CHECKSUMS.sha256"):
        files[name] = out / name
    if disagreements:
        files[DISAGREEMENTS] = out / "agreement" / DISAGREEMENTS
    log(f"wrote {out}")
    return ImportResult(
        out=out,
        n_records=len(records),
        n_labels=len(read.labels),
        n_tasks=read.n_tasks,
        n_unlabelled=read.n_unlabelled,
        n_cancelled=read.n_cancelled,
        n_double=kappa["n_double_annotated"],
        n_adjudicated=n_adjudicated,
        disagreements=disagreements,
        problems=problems,
        kappa=kappa,
        annotators=dict(sorted(annotators.items())),
        files=files,
    )
