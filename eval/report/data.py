"""Step 1, gather: read and validate the inputs (metrics, agreement, learning curve, article protocols,
``framing score`` output), compute kappa and same-story groups, and assemble the one ``report`` dict
that figures and rendering read. Nothing here draws or formats.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.evaluate import METRICS_SCHEMA_VERSION
from eval.report.formatting import ReportError, fmt, fmt_signed, model_label
from model.schema import Schema, SchemaError, load_schema
from training.artefact import git_commit
from training.dataset import SeedPaths

MAX_CORPUS_SENTENCES_TO_ALIGN = 3000


# ------------------------------------------------------------------ inputs
def _read_json(path: Path, what: str, fix: str) -> Any:
    if not path.is_file():
        raise ReportError(f"{what} not found at {path}; {fix}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path} is not valid JSON ({exc}); {fix}") from None


METRICS_REQUIRED = ("models", "primary", "protocol", "source_profiles", "oof_predictions", "config")


def load_metrics(path: Path) -> dict[str, Any]:
    """metrics.json from ``framing evaluate``, checked for the schema version this report understands."""
    fix = "run 'framing evaluate --out reports/eval' (or pass --metrics PATH)"
    metrics = _read_json(path, "metrics.json", fix)
    if not isinstance(metrics, dict):
        raise ReportError(f"{path}: expected a JSON object from 'framing evaluate', found {type(metrics).__name__}")
    version = metrics.get("metrics_schema_version")
    if version != METRICS_SCHEMA_VERSION:
        raise ReportError(
            f"{path} has metrics_schema_version {version!r}; this report reads version {METRICS_SCHEMA_VERSION}. "
            "Re-run 'framing evaluate' with this version of the code"
        )
    missing = [k for k in METRICS_REQUIRED if k not in metrics]
    if missing:
        raise ReportError(f"{path} lacks {missing}; it is not a complete 'framing evaluate' result. {fix}")
    if metrics["primary"] not in metrics["models"]:
        raise ReportError(f"{path}: primary model {metrics['primary']!r} is not among its models")
    for key, result in metrics["models"].items():
        for task in ("frame", "attribution"):
            block = result.get(task, {}) if isinstance(result, dict) else {}
            absent = [
                k for k in ("macro_f1", "macro_f1_ci", "accuracy", "ece", "per_label", "confusion") if k not in block
            ]
            if absent:
                raise ReportError(f"{path}: models.{key}.{task} lacks {absent}. {fix}")
    return metrics


def load_optional_json(path: Path | None, what: str, fix: str, version_key: str | None = None) -> Any | None:
    """An optional input (voices, learning curve): None when absent, an error when present but broken."""
    if path is None or not path.is_file():
        return None
    data = _read_json(path, what, fix)
    if not isinstance(data, dict) or (version_key and version_key not in data and "models" not in data):
        raise ReportError(f"{path} does not look like {what}; {fix}")
    return data


def load_timeline(directory: Path, manifest: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """timeline.csv of a ``framing score`` folder (None when absent: an older run) and the note on undated articles.

    Read with ``model.timeline.read_timeline``, the reader that matches the writer.
    """
    from model.timeline import TimelineError, read_timeline

    path = directory / "timeline.csv"
    if not path.is_file():
        return None, ""
    try:
        rows = read_timeline(path)
    except TimelineError as exc:
        raise ReportError(str(exc)) from None
    counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
    summary = counts.get("timeline") if isinstance(counts, dict) else None
    note = ""
    if isinstance(summary, dict) and summary.get("undated_articles"):
        note = (
            f"{summary['undated_articles']} articles ({summary.get('undated_sentences', '?')} sentences) have no "
            "date and are left out of the timeline (they still count in the source profiles)"
        )
        if summary.get("unreadable_dates"):
            note += f"; {summary['unreadable_dates']} of them have a date that is not ISO YYYY-MM-DD"
    return rows, note


def load_scores(directory: Path) -> dict[str, Any]:
    """A ``framing score`` folder: sources.csv (required); sentences.*, timeline.csv, manifest.json (optional)."""
    from model.profiles import profiles_from_rows

    if not directory.is_dir():
        raise ReportError(f"--scores {directory} is not a folder; pass the output folder of 'framing score'")
    sources_csv = directory / "sources.csv"
    if not sources_csv.is_file():
        raise ReportError(
            f"--scores {directory} has no sources.csv; expected the output folder of 'framing score' "
            "(sources.csv, sentences.parquet or sentences.csv, manifest.json)"
        )
    with sources_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ReportError(f"{sources_csv} has no rows; score some articles first ('framing score')")
    try:
        profiles = profiles_from_rows(rows)
    except (KeyError, ValueError, TypeError) as exc:
        raise ReportError(
            f"{sources_csv} is not a source-profile table (problem: {exc!r}); expected the columns written by "
            "model.profiles.profiles_to_rows (source, n_sentences, slant, frame_mean.<frame>, ...)"
        ) from None
    sentences = None
    for name in ("sentences.parquet", "sentences.csv"):
        path = directory / name
        if path.is_file():
            import pandas as pd

            try:
                sentences = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
            except Exception as exc:  # pandas/pyarrow raise many types for a corrupt file
                raise ReportError(f"{path} could not be read ({exc}); re-run 'framing score'") from None
            missing = [c for c in ("source", "text", "frame", "attribution") if c not in sentences.columns]
            if missing:
                raise ReportError(f"{path} lacks the column(s) {missing}; expected 'framing score' output")
            break
    manifest_path = directory / "manifest.json"
    manifest = _read_json(manifest_path, "manifest.json", "re-run 'framing score'") if manifest_path.is_file() else {}
    counts = manifest.get("counts", {}) if isinstance(manifest, dict) else {}
    model = manifest.get("model", {}) if isinstance(manifest, dict) else {}
    summary = ", ".join(
        f"{counts[k]} {k}" for k in ("articles", "sentences", "sources", "rejects") if isinstance(counts.get(k), int)
    )
    if isinstance(model, dict) and model.get("tag"):
        summary = f"scored with {model['tag']}" + (f"; {summary}" if summary else "")
    timeline, timeline_note = load_timeline(directory, manifest)
    return {
        "dir": str(directory),
        "profiles": profiles,
        "sentences": sentences,
        "manifest": manifest,
        "summary": summary or "no manifest.json",
        "timeline": timeline,  # None: no timeline.csv; []: no dated article
        "timeline_period": timeline[0]["period"] if timeline else None,
        "timeline_note": timeline_note,
    }


def model_provenance(model: str) -> dict[str, Any]:
    """Tag, training config and info of the model the report describes: a folder, 'store' (latest) or 'none'."""
    if model == "none":
        return {"present": False, "why": "no model (--model none)"}
    if model == "store":
        from model.classifier import ModelLoadError
        from model.store import store_model

        try:
            folder, tag = store_model()
        except ModelLoadError:
            return {"present": False, "why": "no model: the BentoML store has no framing-classifier"}
    else:
        folder, tag = Path(model), f"folder {model}"
        if not folder.is_dir() or not (folder / "training_config.json").is_file():
            raise ReportError(
                f"--model {model}: not a saved model folder (expected training_config.json, model_info.json, ...); "
                "pass a folder from 'framing train --export DIR', 'store' or 'none'"
            )

    def read(name: str) -> dict[str, Any]:
        path = folder / name
        try:
            return json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            return {}

    return {
        "present": True,
        "tag": tag,
        "info": read("model_info.json"),
        "training_config": read("training_config.json"),
        "cv_metrics_created": read("metrics.json").get("created"),
    }


# ------------------------------------------------------------------ same story, different words
def align_same_story(
    sources: Sequence[str],
    embeddings: np.ndarray,
    *,
    pair_threshold: float = 0.75,
    join_threshold: float = 0.65,
    max_groups: int = 8,
) -> list[dict[str, Any]]:
    """Groups of sentences from different sources that say the same thing (one sentence per source per group).

    Why greedy from the closest pair: a pair above ``pair_threshold`` (cosine of normalised
    MiniLM embeddings) anchors a group; other sources then join with the sentence whose mean
    similarity to the group is highest, if it is at least ``join_threshold`` (and no member is
    more than 0.1 below that). Each sentence belongs to one group at most. Groups covering
    more sources come first, then the tighter ones.
    """
    emb = np.asarray(embeddings, dtype=float)
    src = np.asarray(sources, dtype=object)
    n = len(src)
    if n < 2:
        return []
    sims = emb @ emb.T
    ii, jj = np.triu_indices(n, k=1)
    keep = (src[ii] != src[jj]) & (sims[ii, jj] >= pair_threshold)
    order = np.argsort(-sims[ii[keep], jj[keep]], kind="stable")
    assigned = np.zeros(n, dtype=bool)
    groups: list[dict[str, Any]] = []
    for i, j in zip(ii[keep][order], jj[keep][order], strict=True):
        if assigned[i] or assigned[j]:
            continue
        members = [int(i), int(j)]
        while True:
            used = {src[k] for k in members}
            cand = np.array([k for k in np.flatnonzero(~assigned) if k not in members and src[k] not in used])
            if cand.size == 0:
                break
            block = sims[np.ix_(cand, members)]
            mean, low = block.mean(1), block.min(1)
            ok = (mean >= join_threshold) & (low >= join_threshold - 0.1)
            if not ok.any():
                break
            members.append(int(cand[int(np.argmax(np.where(ok, mean, -np.inf)))]))
        assigned[members] = True
        sub = sims[np.ix_(members, members)]
        mean_sim = float((sub.sum() - len(members)) / (len(members) * (len(members) - 1)))
        groups.append({"members": sorted(members, key=lambda k: str(src[k])), "similarity": round(mean_sim, 3)})
    groups.sort(key=lambda g: (-len(g["members"]), -g["similarity"]))
    return groups[:max_groups]


# ------------------------------------------------------------------ gather
@dataclass
class Inputs:
    """What ``framing report`` was asked to read."""

    metrics: Path = Path("reports/eval/metrics.json")
    voices: Path | None = Path("reports/eval/voices.json")
    articles: Path | None = Path("reports/eval/articles.json")
    curve: Path | None = Path("reports/eval/learning_curve.json")
    # 'framing annotate curve' (eval/active_learning.py): read when present, as the other optional results
    active_learning: Path | None = Path("reports/eval/active_learning.json")
    scores: Path | None = None
    model: str = "store"
    seeds: Path | None = None
    encoder: str = "default"


def _data_section(seeds_dir: Path | None, schema: Schema) -> dict[str, Any]:
    from training.annotations import AnnotationError
    from training.dataset import load_corpus

    try:
        corpus = load_corpus(SeedPaths(seeds_dir) if seeds_dir else None)
    except (AnnotationError, SchemaError) as exc:
        raise ReportError(f"the seed data could not be read: {exc}") from None
    per_source = []
    for src in sorted({e.source for e in corpus.seeds}):
        rows = [e for e in corpus.seeds if e.source == src]
        per_source.append(
            {
                "source": src,
                "n": len(rows),
                "frame": {f: sum(e.frame == f for e in rows) for f in schema.frame_names},
                "attribution": {a: sum(e.attribution == a for e in rows) for a in schema.attribution_names},
            }
        )
    total = {
        "source": "all",
        "n": len(corpus.seeds),
        "frame": {f: sum(r["frame"][f] for r in per_source) for f in schema.frame_names},
        "attribution": {a: sum(r["attribution"][a] for r in per_source) for a in schema.attribution_names},
    }
    voices = Counter(e.voice for e in corpus.synthetic)
    synthetic = [
        {
            "voice": v,
            "n": voices[v],
            "frame": {f: sum(e.frame == f for e in corpus.synthetic if e.voice == v) for f in schema.frame_names},
        }
        for v in sorted(voices)
    ]
    return {
        "per_source": per_source,
        "total": total,
        "synthetic": synthetic,
        "n_synthetic": len(corpus.synthetic),
        "n_synthetic_dropped": len(corpus.dropped_synthetic),
        "fingerprint": corpus.fingerprint,
        "checksums": corpus.checksums,
    }


def _curve_findings(curve: dict[str, Any]) -> list[str]:
    """Plain sentences on what the last slice of annotation bought, read off the curve (no interpretation added)."""
    out = []
    for model in curve.get("models", []):
        for variant in curve.get("variants", []):
            rows = {s["fraction"]: s for s in curve["summary"] if s["model"] == model and s["training_data"] == variant}
            fr = sorted(rows)
            if len(fr) < 2:
                continue
            last, prev = rows[fr[-1]], rows[fr[-2]]
            out.append(
                f"{model_label(model + '@' + variant)}: frame macro-F1 {fmt(prev['frame']['mean'])} at "
                f"{fr[-2]:.0%} → {fmt(last['frame']['mean'])} at {fr[-1]:.0%} of the seed training data "
                f"({fmt_signed(last['frame']['mean'] - prev['frame']['mean'], 3)}); attribution "
                f"{fmt(prev['attribution']['mean'])} → {fmt(last['attribution']['mean'])} "
                f"({fmt_signed(last['attribution']['mean'] - prev['attribution']['mean'], 3)})."
            )
    return out


def gather(inputs: Inputs, *, embed: Callable[[Sequence[str]], np.ndarray] | None = None) -> dict[str, Any]:
    """Read, validate and compute everything the report shows (numbers only; figures come later)."""
    from eval.agreement import AgreementError, agreement_summary

    metrics = load_metrics(inputs.metrics)
    voices = load_optional_json(
        inputs.voices, "a leave-one-voice-out result", "run 'framing evaluate --protocol voice'", "protocol"
    )
    articles = load_optional_json(
        inputs.articles, "a whole-article evaluation", "run 'framing evaluate --protocol camp'", "protocols"
    )
    curve = load_optional_json(inputs.curve, "a learning curve", "run 'framing learning-curve'", "curve_schema_version")
    if curve is not None and "summary" not in curve:
        raise ReportError(f"{inputs.curve} lacks 'summary'; re-run 'framing learning-curve'")
    active_learning = load_optional_json(
        inputs.active_learning, "an active-learning curve", "run 'framing annotate curve'", "al_schema_version"
    )
    if active_learning is not None and not {"summary", "paired", "models"} <= set(active_learning):
        raise ReportError(f"{inputs.active_learning} lacks summary/paired/models; re-run 'framing annotate curve'")
    scores = load_scores(inputs.scores) if inputs.scores is not None else None
    model = model_provenance(inputs.model)  # before the slow steps: a bad --model fails at once
    paths = SeedPaths(inputs.seeds) if inputs.seeds else SeedPaths()
    try:
        schema = load_schema(paths.schema)
    except (SchemaError, OSError) as exc:
        raise ReportError(f"the label schema could not be read: {exc}") from None
    try:
        agreement = agreement_summary(paths)
    except AgreementError as exc:
        raise ReportError(f"annotation agreement: {exc}") from None
    data = _data_section(inputs.seeds, schema)
    primary = metrics["primary"]
    oof = metrics["oof_predictions"]

    if embed is None:
        from eval.evaluate import FrozenEmbeddings

        embed = FrozenEmbeddings(inputs.encoder)
    groups = align_same_story([o["source"] for o in oof], embed([o["text"] for o in oof]))
    same_story = [{"similarity": g["similarity"], "rows": [oof[k] for k in g["members"]]} for g in groups]
    corpus_story: list[dict[str, Any]] = []
    corpus_story_note = ""
    if scores is not None and scores["sentences"] is not None and len(scores["sentences"]):
        sent = scores["sentences"]
        if len(sent) > MAX_CORPUS_SENTENCES_TO_ALIGN:
            sent = sent.sample(MAX_CORPUS_SENTENCES_TO_ALIGN, random_state=0).sort_index()
            corpus_story_note = (
                f"aligned a random sample of {MAX_CORPUS_SENTENCES_TO_ALIGN} of {len(scores['sentences'])} sentences"
            )
        records = sent.to_dict("records")
        cgroups = align_same_story([str(r["source"]) for r in records], embed([str(r["text"]) for r in records]))
        corpus_story = [{"similarity": g["similarity"], "rows": [records[k] for k in g["members"]]} for g in cgroups]

    errors = {
        task: sorted(
            (o for o in oof if o[f"gold_{task}"] != o[f"pred_{task}"]),
            key=lambda o, t=task: -o[f"{t}_confidence"],
        )[: 15 if task == "frame" else 10]
        for task in ("frame", "attribution")
    }
    models_sorted = sorted(metrics["models"], key=lambda k: -metrics["models"][k]["frame"]["macro_f1"])
    warnings = []
    if metrics.get("data_fingerprint") and metrics["data_fingerprint"] != data["fingerprint"]:
        warnings.append(
            f"metrics.json was computed on data {metrics['data_fingerprint']}, the seed data now is "
            f"{data['fingerprint']}: its numbers describe the older data. Re-run 'framing evaluate'."
        )
    if curve is not None and curve.get("data_fingerprint") != data["fingerprint"]:
        warnings.append(
            f"the learning curve was computed on data {curve.get('data_fingerprint')}, not the current "
            f"{data['fingerprint']}; re-run 'framing learning-curve'."
        )
    if active_learning is not None and active_learning.get("data_fingerprint") != data["fingerprint"]:
        warnings.append(
            f"the active-learning curve was computed on data {active_learning.get('data_fingerprint')}, not the "
            f"current {data['fingerprint']}; re-run 'framing annotate curve'."
        )
    return {
        "title": "Framing classifier — evaluation report",
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "schema": schema,
        "metrics": metrics,
        "metrics_path": str(inputs.metrics),
        "primary": primary,
        "models_sorted": models_sorted,
        "voices": voices,
        "articles": articles,
        "curve": curve,
        "curve_findings": _curve_findings(curve) if curve else [],
        "active_learning": active_learning,
        "scores": scores,
        "agreement": agreement,
        "data": data,
        "same_story": same_story,
        "corpus_story": corpus_story,
        "corpus_story_note": corpus_story_note,
        "errors": errors,
        "model": model,
        "warnings": warnings,
    }
