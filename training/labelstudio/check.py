"""In, step 2: every label checked by the seed loader's rules; agreement between annotators (Cohen's kappa)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.schema import Schema
from model.text import normalise
from training.labelstudio.common import ATTRIBUTION, FRAME, SENTENCE
from training.labelstudio.export import task_id_of
from training.labelstudio.read import Problem, RawLabel, task_label


# =========================================================================== in: checking
@dataclass(frozen=True)
class CheckedLabel:
    """A label that passed every seed-loader rule: exact span, known labels, an annotator."""

    where: str
    doc_id: str
    source: str
    sentence_index: int | None
    start: int
    end: int
    text: str
    annotator: str
    frame: str
    attribution: str
    secondary: tuple[str, ...]
    note: str

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.start, self.end)

    @property
    def task(self) -> str:
        return task_id_of(self.doc_id, self.start, self.end)


def canonical_label(value: str, names: Sequence[str]) -> str | None:
    """``value`` as a schema label: exact, or the same letters in another case ('Mediation' -> 'mediation')."""
    if value in names:
        return value
    folded = {n.casefold(): n for n in names}
    return folded.get(value.strip().casefold())


def check_label(
    raw: RawLabel, schema: Schema, articles: dict[str, str | None], sources: dict[str, str]
) -> CheckedLabel | Problem:
    """The seed loader's rules for one label (missing field, unknown label, span mismatch); the first problem wins.

    ``articles``: doc_id -> article text (None when its file is missing).
    """
    data = raw.data
    task = task_label(data, "?")
    missing = [k for k in ("doc_id", "start", "end", SENTENCE) if data.get(k) in (None, "")]
    if missing:
        return Problem(
            raw.where,
            task,
            "missing field",
            f"the task's data has no {missing}: it was not made by 'framing annotate export' (which writes "
            "doc_id, source, start, end and sentence into every task); import tasks.json from the export folder",
        )
    doc_id, start, end = str(data["doc_id"]), data["start"], data["end"]
    if isinstance(start, str) and start.lstrip("-").isdigit():
        start = int(start)
    if isinstance(end, str) and end.lstrip("-").isdigit():
        end = int(end)
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        return Problem(
            raw.where, task, "missing field", f"'start' and 'end' must be integers, found {start!r}, {end!r}"
        )
    for name, value in ((FRAME, raw.frame), (ATTRIBUTION, raw.attribution)):
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            return Problem(raw.where, task, "missing field", f"no {name} chosen; label both frame and attribution")
        if not isinstance(value, str):
            return Problem(raw.where, task, "missing field", f"{name} must be one label, found {value!r}")
    frame = canonical_label(str(raw.frame), schema.frame_names)
    if frame is None:
        return Problem(
            raw.where,
            task,
            "unknown label",
            f"frame {raw.frame!r} is not in schema {schema.name!r} (frames {schema.frame_names})",
        )
    attribution = canonical_label(str(raw.attribution), schema.attribution_names)
    if attribution is None:
        return Problem(
            raw.where,
            task,
            "unknown label",
            f"attribution {raw.attribution!r} is not in schema {schema.name!r} "
            f"(attributions {schema.attribution_names})",
        )
    secondary: list[str] = []
    for sec in raw.secondary:
        name = canonical_label(str(sec), schema.frame_names)
        if name is None:
            return Problem(
                raw.where,
                task,
                "unknown label",
                f"secondary frame {sec!r} is not in schema {schema.name!r} (frames {schema.frame_names})",
            )
        if name != frame and name not in secondary:
            secondary.append(name)
    if not raw.annotator:
        return Problem(
            raw.where,
            task,
            "missing field",
            "no annotator: fill the 'annotator' column (or pass --default-annotator NAME for a one-person sheet)",
        )
    body = articles.get(doc_id)
    if body is None:
        return Problem(
            raw.where,
            task,
            "span mismatch",
            f"no article file {doc_id}.txt in the --articles folder; pass the folder 'framing annotate export' wrote",
        )
    sentence = str(data[SENTENCE])
    span = body[start:end] if 0 <= start < end <= len(body) else None
    if span is None:
        return Problem(
            raw.where,
            task,
            "span mismatch",
            f"span [{start}, {end}) lies outside {doc_id}.txt (length {len(body)}): the article changed since export",
        )
    if sentence != span and normalise(sentence) != normalise(span):
        return Problem(
            raw.where,
            task,
            "span mismatch",
            f"the task's sentence {sentence[:60]!r} no longer matches {doc_id}.txt[{start}:{end}] "
            f"({span[:60]!r}): the article or the task was edited after export; export the article again",
        )
    index = data.get("sentence_index")
    return CheckedLabel(
        where=raw.where,
        doc_id=doc_id,
        source=str(data.get("source") or sources.get(doc_id) or ""),
        sentence_index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        start=start,
        end=end,
        text=span,
        annotator=raw.annotator,
        frame=frame,
        attribution=attribution,
        secondary=tuple(secondary),
        note=raw.note,
    )


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa (sklearn); None when it is undefined (both annotators used one and the same label)."""
    from sklearn.metrics import cohen_kappa_score

    if not first or len(set(first) | set(second)) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(cohen_kappa_score(list(first), list(second)))
    return None if math.isnan(value) else round(value, 4)


def agreement(groups: dict[tuple[str, int, int], list[CheckedLabel]]) -> dict[str, Any]:
    """Cohen's kappa on the sentences two annotators labelled, per task (frame, attribution), pooled and per pair.

    With more than two annotators on a sentence, its first two (by name) are compared, as
    ``eval.agreement`` compares a first and a second pass.
    """
    pairs: dict[tuple[str, str], list[tuple[CheckedLabel, CheckedLabel]]] = defaultdict(list)
    for labels in groups.values():
        by_person = sorted({lab.annotator: lab for lab in labels}.values(), key=lambda lab: lab.annotator)
        if len(by_person) >= 2:
            pairs[(by_person[0].annotator, by_person[1].annotator)].append((by_person[0], by_person[1]))

    def block(items: list[tuple[CheckedLabel, CheckedLabel]]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(items)}
        for task in (FRAME, ATTRIBUTION):
            a, b = [getattr(x, task) for x, _ in items], [getattr(y, task) for _, y in items]
            agree = sum(x == y for x, y in zip(a, b, strict=True))
            out[task] = {
                "kappa": cohen_kappa(a, b),
                "agreement": round(agree / len(items), 4) if items else None,
                "disagreements": len(items) - agree,
            }
        return out

    every = [p for items in pairs.values() for p in items]
    return {
        "n_double_annotated": len(every),
        "pooled": block(every) if every else None,
        "pairs": [{"annotators": list(k), **block(v)} for k, v in sorted(pairs.items())],
    }
