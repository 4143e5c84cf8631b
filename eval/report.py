"""The evaluation report: one self-contained HTML page (and its Markdown twin) a reader can trust at a glance.

Why one page with everything embedded: the report is mailed, archived and opened on
machines without network; images are base64 PNGs inside ``index.html`` and nothing is
fetched. Why numbers come straight from the files: every figure in the report is read
from ``metrics.json`` (and the agreement files, the learning curve, ``framing score``
output) and printed with a fixed rounding, so a test can check the page against its
sources, and a reader can trace each number back.

Pipeline: ``gather`` (read and validate inputs, compute kappa and same-story groups) ->
``make_figures`` (matplotlib, Agg) -> ``render_html`` / ``render_markdown`` ->
``write_report``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.evaluate import METRICS_SCHEMA_VERSION, git_commit
from model.schema import Schema, SchemaError, load_schema
from training.dataset import SeedPaths

# Okabe-Ito: colour-blind safe. One colour per frame everywhere (bars, chips, tables).
OKABE_ITO = ["#0072B2", "#D55E00", "#CC79A7", "#009E73", "#E69F00", "#999999", "#56B4E9", "#F0E442", "#000000"]
FRAME_COLOURS_BY_NAME = {
    "anti_terror": "#0072B2",
    "aggression": "#D55E00",
    "ethnic_cleansing": "#CC79A7",
    "humanitarian": "#009E73",
    "diplomacy": "#E69F00",
    "background": "#999999",
}
ATTRIBUTION_COLOURS = ["#332288", "#56B4E9", "#F0E442"]  # authorial dark, attributed sky blue, distanced yellow
MODEL_NAMES = {
    "finetuned": "fine-tuned MiniLM",
    "tfidf_lr": "TF-IDF word+char + LR",
    "minilm_lr": "frozen MiniLM + LR",
    "majority": "majority class",
}
MODEL_STYLE = {"finetuned": "#000000", "tfidf_lr": "#E69F00", "minilm_lr": "#0072B2", "majority": "#999999"}
MAX_CORPUS_SENTENCES_TO_ALIGN = 3000


class ReportError(ValueError):
    """An input of the report is missing or malformed; the message says what to run or fix."""


# ------------------------------------------------------------------ formatting (one rounding rule for HTML, MD, tests)
def fmt(x: float | None, digits: int = 3) -> str:
    """How every metric is displayed: fixed decimals, an en dash for a missing value."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def fmt_signed(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:+.{digits}f}"


def fmt_ci(ci: Sequence[float | None] | None, digits: int = 3) -> str:
    if not ci or len(ci) != 2:
        return "–"
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def model_label(key: str) -> str:
    """'finetuned@seed+synthetic' -> 'fine-tuned MiniLM (seed+synthetic)'."""
    model, _, data = key.partition("@")
    return f"{MODEL_NAMES.get(model, model)} ({data})" if data else MODEL_NAMES.get(model, model)


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


def load_scores(directory: Path) -> dict[str, Any]:
    """A ``framing score`` output folder: sources.csv (required), sentences.parquet|csv and manifest.json (optional)."""
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
    return {
        "dir": str(directory),
        "profiles": profiles,
        "sentences": sentences,
        "manifest": manifest,
        "summary": summary or "no manifest.json",
    }


def model_provenance(model: str) -> dict[str, Any]:
    """Tag, training config and info of the model the report describes: a folder, 'store' (latest) or 'none'."""
    if model == "none":
        return {"present": False, "why": "no model (--model none)"}
    if model == "store":
        import bentoml

        from model.store import MODEL_NAME

        try:
            ref = bentoml.models.get(f"{MODEL_NAME}:latest")
        except bentoml.exceptions.NotFound:
            return {"present": False, "why": "no model: the BentoML store has no framing-classifier"}
        folder, tag = Path(ref.path), str(ref.tag)
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


# ------------------------------------------------------------------ figures
@dataclass
class Figure:
    id: str
    title: str
    caption: str
    alt: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def frame_colours(schema: Schema) -> dict[str, str]:
    spare = iter(c for c in OKABE_ITO if c not in FRAME_COLOURS_BY_NAME.values())
    return {f: FRAME_COLOURS_BY_NAME.get(f) or next(spare, "#444444") for f in schema.frame_names}


def attribution_colours(schema: Schema) -> dict[str, str]:
    return {a: ATTRIBUTION_COLOURS[k % len(ATTRIBUTION_COLOURS)] for k, a in enumerate(schema.attribution_names)}


def side_colours(schema: Schema) -> dict[str, str]:
    colours = frame_colours(schema)
    out = {}
    for side in schema.sides:
        first = next((f for f in schema.frame_names if schema.side_of(f) == side), None)
        out[side] = colours[first] if first else "#444444"
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9.5,
            "axes.titlesize": 10.5,
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": False,
            "legend.frameon": False,
            "svg.fonttype": "none",
        }
    )
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _rows_y(n: int, group: int = 1) -> np.ndarray:
    """Top-to-bottom y positions, with a gap after every ``group`` rows (pairs of gold/predicted bars)."""
    return -(np.arange(n) + 0.45 * (np.arange(n) // group))


def _stacked_frames(
    ax, rows: list[tuple[str, dict[str, Any]]], schema: Schema, group: int = 1, ci_rows: set[int] | None = None
) -> None:
    """Horizontal stacked bars of frame_mean per row; each segment's CI drawn as a whisker at its right end."""
    colours = frame_colours(schema)
    y = _rows_y(len(rows), group)
    for k, (yk, (_label, prof)) in enumerate(zip(y, rows, strict=True)):
        with_ci = ci_rows is None or k in ci_rows
        left = 0.0
        for f in schema.frame_names:
            v = prof["frame_mean"].get(f) or 0.0
            ax.barh(yk, v, left=left, color=colours[f], edgecolor="white", linewidth=0.6, height=0.72)
            ci = prof.get("frame_mean_ci", {}).get(f)
            if with_ci and ci and None not in ci and v > 0.02:
                end = left + v
                ax.plot([end - (v - ci[0]), end + (ci[1] - v)], [yk, yk], color="black", lw=0.8, alpha=0.7)
                ax.plot([end, end], [yk - 0.18, yk + 0.18], color="black", lw=0.8, alpha=0.7)
            if v >= 0.07:
                ax.text(left + v / 2, yk, f"{v:.0%}", ha="center", va="center", fontsize=7.5, color="white")
            left += v
    ax.set_yticks(y, [label for label, _ in rows])
    ax.set_xlim(0, 1.02)
    ax.xaxis.set_major_formatter(_percent())
    ax.set_xlabel("expected share of sentences (mean frame probability)")


def _percent():
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0, decimals=0)


def _frame_legend(ax, schema: Schema, ncol: int = 6) -> None:
    from matplotlib.patches import Patch

    colours = frame_colours(schema)
    ax.legend(
        handles=[Patch(color=colours[f], label=f) for f in schema.frame_names],
        loc="lower left",
        ncol=ncol,
        bbox_to_anchor=(0.0, 1.0),
        fontsize=8.5,
        handlelength=1.2,
    )


def _slant_plot(axes, rows: list[tuple[str, dict[str, Any], str, str]], schema: Schema, group: int = 1) -> None:
    """Dot plot of slant and adopted slant with CIs; rows are (label, profile, marker style, colour)."""
    y = _rows_y(len(rows), group)
    for ax, key, title in zip(
        axes, ("slant", "adopted_slant"), ("slant (all sentences)", "adopted slant (outlet's own voice)"), strict=True
    ):
        ax.axvline(0, color="#bbbbbb", lw=0.8, zorder=0)
        for yk, (_label, prof, style, colour) in zip(y, rows, strict=True):
            v, ci = prof.get(key), prof.get(f"{key}_ci") or [None, None]
            if v is None:
                continue
            if None not in ci:
                ax.plot(ci, [yk, yk], color=colour, lw=1.6, alpha=0.85)
            ax.plot([v], [yk], marker="o", ms=6.5, color=colour, markerfacecolor="white" if style == "open" else colour)
            ax.text(1.04, yk, fmt_signed(v), va="center", fontsize=8, transform=ax.get_yaxis_transform())
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(title, loc="left")
        ax.set_xlabel(f"← {schema.negative_side}-aligned      {schema.positive_side}-aligned →")
        ax.set_yticks(y, [label for label, *_ in rows])
        ax.grid(axis="x", color="#eeeeee")
    axes[1].tick_params(labelleft=False)


def _mix_plot(axes, rows: list[tuple[str, dict[str, Any]]], schema: Schema, group: int = 1) -> None:
    colours = attribution_colours(schema)
    y = _rows_y(len(rows), group)
    for ax, side in zip(axes, schema.sides, strict=True):
        for yk, (_label, prof) in zip(y, rows, strict=True):
            mix = prof.get("attribution_mix", {}).get(side, {})
            left = 0.0
            for a in schema.attribution_names:
                v = mix.get(a) or 0.0
                ax.barh(yk, v, left=left, color=colours[a], edgecolor="white", linewidth=0.6, height=0.72)
                if v >= 0.09:
                    dark = colours[a] in ("#332288",)
                    ax.text(
                        left + v / 2,
                        yk,
                        f"{v:.0%}",
                        ha="center",
                        va="center",
                        fontsize=7.5,
                        color="white" if dark else "black",
                    )
                left += v
            mass = mix.get("mass")
            ax.text(
                1.02,
                yk,
                f"{mass:.0%}" if mass is not None else "–",
                va="center",
                fontsize=8,
                transform=ax.get_yaxis_transform(),
            )
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(_percent())
        ax.set_title(f"{side}-aligned framing", loc="left")
        ax.text(1.02, 1.0, "share of\nall framing", fontsize=7.5, va="bottom", transform=ax.transAxes)
        ax.set_yticks(y, [label for label, _ in rows])
    axes[1].tick_params(labelleft=False)


def _attribution_legend(fig, schema: Schema) -> None:
    from matplotlib.patches import Patch

    colours = attribution_colours(schema)
    fig.legend(
        handles=[Patch(color=colours[a], label=a) for a in schema.attribution_names],
        loc="upper center",
        ncol=len(schema.attribution_names),
        bbox_to_anchor=(0.5, 0.0),
        fontsize=8.5,
    )


def make_figures(report: dict[str, Any]) -> list[Figure]:
    """Every figure of the report, in page order."""
    plt = _plt()
    schema: Schema = report["schema"]
    metrics = report["metrics"]
    primary = report["primary"]
    colours = frame_colours(schema)
    figs: list[Figure] = []

    # --- data: labels per source
    data = report["data"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(data["per_source"]) + 1.4), width_ratios=[2, 1.2])
    sources = [r["source"] for r in data["per_source"]]
    y = np.arange(len(sources))[::-1]
    for ax, task, palette in (
        (axes[0], "frame", colours),
        (axes[1], "attribution", attribution_colours(schema)),
    ):
        names = schema.frame_names if task == "frame" else schema.attribution_names
        for yk, row in zip(y, data["per_source"], strict=True):
            left = 0
            for name in names:
                v = row[task][name]
                ax.barh(
                    yk,
                    v,
                    left=left,
                    color=palette[name],
                    edgecolor="white",
                    lw=0.6,
                    height=0.7,
                    label=name if yk == y[0] else None,
                )
                if v >= 3:
                    ax.text(
                        left + v / 2,
                        yk,
                        str(v),
                        ha="center",
                        va="center",
                        fontsize=7.5,
                        color="white" if palette[name] in ("#332288", "#0072B2", "#D55E00") else "black",
                    )
                left += v
        ax.set_yticks(y, sources if task == "frame" else [""] * len(sources))
        ax.set_xlabel("annotated seed sentences")
        ax.set_title(f"gold {task} per source", loc="left")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, fontsize=8)
    figs.append(
        Figure(
            "fig-data-labels",
            "Annotated seed sentences per source and label",
            "Bar length = number of annotated sentences; read off how thin the rare labels are per source "
            "(each fold is tested on one source).",
            "Stacked bar charts of gold frame and attribution counts for each seed source.",
            _png(fig),
        )
    )

    # --- quality on whole articles: both protocols, every model
    if report["articles"]:
        protos = [("seeds", "real seed outlets"), ("camp", "leave-one-camp-out")]
        rows = [
            (f"{name} — {label}", r)
            for key, label in protos
            for name, r in report["articles"]["protocols"][key]["models"].items()
        ][::-1]
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.34 * len(rows) + 1.4), sharey=True)
        for ax, task in zip(axes, ("frame", "attribution"), strict=True):
            for k, (name, r) in enumerate(rows):
                m = r[task]
                colour = "#0072B2" if "context" in name else "#D55E00" if "sentence" in name else "#555555"
                ax.plot(m["macro_f1_ci"], [k, k], color=colour, lw=2, alpha=0.8)
                ax.plot(
                    [m["macro_f1"]], [k], "o", color=colour, ms=7, markerfacecolor="white" if "camp" in name else colour
                )
                ax.text(m["macro_f1_ci"][1] + 0.015, k, fmt(m["macro_f1"]), va="center", fontsize=8)
            ax.set_xlim(0, 1.05)
            ax.set_title(f"{task} macro-F1 [95% CI]", loc="left")
            ax.grid(axis="x", color="#eeeeee")
        axes[0].set_yticks(range(len(rows)), [n for n, _ in rows])
        figs.append(
            Figure(
                "fig-articles",
                "Sentence-only against context-reading models on whole articles",
                "Blue = reads context, orange = sentence alone, grey = TF-IDF; filled dots: trained on team-written "
                "articles, tested on the real seed reports; open dots: leave-one-camp-out on team-written articles "
                "(optimistic). Line = 95% bootstrap CI.",
                "Dot plot of frame and attribution macro-F1 with confidence intervals per model and protocol.",
                _png(fig),
            )
        )

    # --- quality: model comparison
    keys = report["models_sorted"][::-1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.36 * len(keys) + 1.3), sharey=True)
    for ax, task in zip(axes, ("frame", "attribution"), strict=True):
        for k, key in enumerate(keys):
            m = metrics["models"][key][task]
            model = key.split("@")[0]
            colour = MODEL_STYLE.get(model, "#444444")
            synthetic = key.endswith("synthetic")
            ax.plot(m["macro_f1_ci"], [k, k], color=colour, lw=2, alpha=0.8)
            ax.plot([m["macro_f1"]], [k], "o", color=colour, ms=7, markerfacecolor=colour if synthetic else "white")
            ax.text(m["macro_f1_ci"][1] + 0.015, k, fmt(m["macro_f1"]), va="center", fontsize=8)
        ax.set_xlim(0, 1.05)
        ax.set_title(f"{task} macro-F1 [95% CI]", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.set_xlabel("macro-F1 on held-out sources")
    axes[0].set_yticks(range(len(keys)), [model_label(k) for k in keys])
    figs.append(
        Figure(
            "fig-quality-models",
            "Fine-tuned model against every baseline",
            "Dot = macro-F1 of the out-of-fold predictions over all held-out sources, line = 95% bootstrap CI; "
            "filled dots were trained with the synthetic set. Overlapping lines mean the difference is not "
            "established.",
            "Dot plot of frame and attribution macro-F1 with confidence intervals for every model.",
            _png(fig),
        )
    )

    # --- quality: confusion matrices
    for task in ("frame", "attribution"):
        conf = metrics["models"][primary][task]["confusion"]
        labels, mat = conf["labels"], np.asarray(conf["matrix"], dtype=float)
        rows = mat.sum(1, keepdims=True)
        norm = np.divide(mat, rows, out=np.zeros_like(mat), where=rows > 0)
        size = max(4.0, 1.0 + 0.62 * len(labels))
        fig, ax = plt.subplots(figsize=(size + 1.6, size))
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(labels)):
            for j in range(len(labels)):
                if mat[i, j]:
                    ax.text(
                        j,
                        i,
                        int(mat[i, j]),
                        ha="center",
                        va="center",
                        fontsize=9,
                        color="white" if norm[i, j] > 0.55 else "black",
                    )
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
        ax.set_yticks(range(len(labels)), [f"{lab} ({int(r)})" for lab, r in zip(labels, rows[:, 0], strict=True)])
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold (count)")
        ax.spines[:].set_visible(False)
        fig.colorbar(im, ax=ax, fraction=0.04, pad=0.03, label="share of gold row")
        ax.set_title(f"{task}: {model_label(primary)}", loc="left")
        figs.append(
            Figure(
                f"fig-confusion-{task}",
                f"Confusion matrix — {task}",
                "Numbers are sentence counts, shading is the share of the gold row; off-diagonal cells are the "
                "confusions to review in the codebook.",
                f"Heatmap of gold against predicted {task} labels for the primary model.",
                _png(fig),
            )
        )

    # --- quality: reliability
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    others = [
        k for k in report["models_sorted"] if k != primary and k.endswith("synthetic") and not k.startswith("majority")
    ]
    shown = [primary, *others[:2]]
    for ax, task in zip(axes, ("frame", "attribution"), strict=True):
        ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1, ls="--", label="perfect calibration")
        for key in shown:
            bins = metrics["models"][key][task].get("reliability", [])
            if not bins:
                continue
            model = key.split("@")[0]
            conf_ = [b["confidence"] for b in bins]
            acc = [b["accuracy"] for b in bins]
            size = [12 + 1.6 * b["count"] for b in bins]
            colour = MODEL_STYLE.get(model, "#444444")
            ece = metrics["models"][key][task]["ece"]
            ax.plot(conf_, acc, color=colour, lw=1.3, alpha=0.8)
            ax.scatter(
                conf_,
                acc,
                s=size,
                color=colour,
                alpha=0.75,
                edgecolor="white",
                label=f"{model_label(key)} (ECE {fmt(ece)})",
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("mean predicted confidence in bin")
        ax.set_title(task, loc="left")
        ax.grid(color="#f0f0f0")
    axes[0].set_ylabel("accuracy in bin")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, fontsize=8, markerscale=0.6)
    figs.append(
        Figure(
            "fig-reliability",
            "Reliability diagram",
            "Each dot is a confidence bin (area ∝ sentences in it). Dots below the diagonal are over-confident: "
            "the model is right less often than its probability says.",
            "Reliability diagrams for frame and attribution: accuracy against confidence per bin.",
            _png(fig),
        )
    )

    # --- quality: learning curve
    curve = report["curve"]
    if curve:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), sharey=True)
        for ax, task in zip(axes, ("frame", "attribution"), strict=True):
            for model in curve["models"]:
                for variant in curve["variants"]:
                    pts = sorted(
                        (s for s in curve["summary"] if s["model"] == model and s["training_data"] == variant),
                        key=lambda s: s["fraction"],
                    )
                    if not pts:
                        continue
                    x = [s["fraction"] for s in pts]
                    mean = [s[task]["mean"] for s in pts]
                    colour = MODEL_STYLE.get(model, "#444444")
                    ls = "-" if variant == "seed+synthetic" else "--"
                    ax.fill_between(
                        x, [s[task]["min"] for s in pts], [s[task]["max"] for s in pts], color=colour, alpha=0.13, lw=0
                    )
                    ax.plot(x, mean, ls=ls, marker="o", ms=4, color=colour, label=model_label(f"{model}@{variant}"))
            for key, marker in (("finetuned@seed+synthetic", "*"), ("finetuned@seed", "P")):
                if key in metrics["models"]:
                    m = metrics["models"][key][task]
                    ax.errorbar(
                        [1.0],
                        [m["macro_f1"]],
                        yerr=[[m["macro_f1"] - m["macro_f1_ci"][0]], [m["macro_f1_ci"][1] - m["macro_f1"]]],
                        fmt=marker,
                        ms=11 if marker == "*" else 8,
                        color="black",
                        capsize=3,
                        label=f"{model_label(key)}, full data (metrics.json)",
                    )
            ax.set_xlim(0, 1.05)
            ax.xaxis.set_major_formatter(_percent())
            ax.set_xlabel("share of each fold's seed training sentences used")
            ax.set_title(f"{task} macro-F1 on held-out sources", loc="left")
            ax.grid(color="#f0f0f0")
        axes[0].set_ylabel("macro-F1 (pooled out-of-fold)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8)
        figs.append(
            Figure(
                "fig-learning-curve",
                "Learning curve: would more annotation pay?",
                f"Curves for {', '.join(model_label(m) for m in curve['models'])} only (dashed: seed sentences only; "
                f"solid: the whole synthetic set plus the seed share); line = mean of {curve['repeats']} stratified "
                "subsamples, band = min–max. Black markers: the fine-tuned model at full data from metrics.json "
                "(not run on the curve; 'framing learning-curve --models finetuned' computes it). A curve still "
                "rising at 100% says more annotated sentences would pay.",
                "Line chart of macro-F1 against the share of seed training data for the cheap models.",
                _png(fig),
            )
        )

    # --- sources: seeds, predicted vs gold
    gold = metrics["source_profiles"].get("gold", {})
    pred = metrics["source_profiles"].get(primary, {})
    seed_sources = sorted(set(gold) & set(pred))
    if seed_sources:
        rows = [(f"{s} · {lab}", prof[s]) for s in seed_sources for lab, prof in (("gold", gold), ("predicted", pred))]
        fig, ax = plt.subplots(figsize=(10, 0.36 * len(rows) + 1.3))
        _stacked_frames(ax, rows, schema, group=2, ci_rows=set(range(1, len(rows), 2)))
        _frame_legend(ax, schema)
        figs.append(
            Figure(
                "fig-seed-frames",
                "Seed sources: predicted against gold frame shares",
                "For each seed source, the gold profile (one-hot annotations) above the out-of-fold prediction of "
                f"{model_label(primary)}. Whiskers (predicted rows) at each segment's end = 95% bootstrap CI of "
                "that frame's share.",
                "Stacked bars of frame shares per seed source, gold and predicted.",
                _png(fig),
            )
        )
        srows = []
        for s in seed_sources:
            srows.append((f"{s} · gold", gold[s], "open", "#555555"))
            srows.append((f"{s} · predicted", pred[s], "filled", "#000000"))
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.36 * len(srows) + 1.4), sharey=True)
        _slant_plot(axes, srows, schema, group=2)
        figs.append(
            Figure(
                "fig-seed-slant",
                "Seed sources: slant and adopted slant, predicted against gold",
                f"Open dots = gold, filled = predicted; lines = 95% CI. Slant runs from −1 (all framing "
                f"{schema.negative_side}-aligned) to +1 ({schema.positive_side}-aligned); adopted slant counts only "
                "sentences in the outlet's own voice.",
                "Dot plot of slant and adopted slant with confidence intervals per seed source.",
                _png(fig),
            )
        )
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.36 * len(rows) + 1.3), sharey=True)
        _mix_plot(axes, rows, schema, group=2)
        _attribution_legend(fig, schema)
        figs.append(
            Figure(
                "fig-seed-mix",
                "Seed sources: attribution mix per side, predicted against gold",
                "Of the framing aligned with each side, the share the outlet adopts (authorial), attributes to "
                "someone, or distances itself from.",
                "Stacked bars of authorial, attributed and distanced shares per side and seed source.",
                _png(fig),
            )
        )

    # --- sources: scored corpus
    scores = report["scores"]
    if scores:
        profiles = scores["profiles"]
        names = sorted(profiles, key=lambda s: -(profiles[s].get("slant") or 0))
        rows = [(f"{s} (n={profiles[s]['n_sentences']})", profiles[s]) for s in names]
        fig, ax = plt.subplots(figsize=(10, 0.4 * len(rows) + 1.3))
        _stacked_frames(ax, rows, schema)
        _frame_legend(ax, schema)
        figs.append(
            Figure(
                "fig-corpus-frames",
                "Scored corpus: frame shares per source",
                "Expected share of each frame per source (model probabilities), sources sorted by slant; "
                "whiskers = 95% bootstrap CI of each frame's share. Short sources have wide whiskers.",
                "Stacked bars of frame shares per source of the scored corpus.",
                _png(fig),
            )
        )
        srows = [
            (
                label,
                prof,
                "filled",
                side_colours(schema)[schema.positive_side]
                if (prof.get("slant") or 0) >= 0
                else side_colours(schema)[schema.negative_side],
            )
            for label, prof in rows
        ]
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(srows) + 1.4), sharey=True)
        _slant_plot(axes, srows, schema)
        figs.append(
            Figure(
                "fig-corpus-slant",
                "Scored corpus: slant and adopted slant",
                "Dot = estimate, line = 95% CI; a CI that crosses 0 means the source's lean is not established.",
                "Dot plot of slant and adopted slant with confidence intervals per source.",
                _png(fig),
            )
        )
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(rows) + 1.3), sharey=True)
        _mix_plot(axes, rows, schema)
        _attribution_legend(fig, schema)
        figs.append(
            Figure(
                "fig-corpus-mix",
                "Scored corpus: attribution mix per side",
                "Of the framing aligned with each side, how much each outlet adopts, attributes or distances.",
                "Stacked bars of authorial, attributed and distanced shares per side and source.",
                _png(fig),
            )
        )
    return figs


def expected_figure_ids(report: dict[str, Any]) -> list[str]:
    """The figure ids a report with these inputs must contain (tests check the page against this)."""
    ids = [
        "fig-data-labels",
        "fig-quality-models",
        "fig-confusion-frame",
        "fig-confusion-attribution",
        "fig-reliability",
    ]
    if report["articles"]:
        ids.append("fig-articles")
    if report["curve"]:
        ids.append("fig-learning-curve")
    if set(report["metrics"]["source_profiles"].get("gold", {})) & set(
        report["metrics"]["source_profiles"].get(report["primary"], {})
    ):
        ids += ["fig-seed-frames", "fig-seed-slant", "fig-seed-mix"]
    if report["scores"]:
        ids += ["fig-corpus-frames", "fig-corpus-slant", "fig-corpus-mix"]
    return ids


# ------------------------------------------------------------------ rendering
def _template_env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=fmt, fmt_ci=fmt_ci, fmt_signed=fmt_signed, model_label=model_label)
    return env


def render_html(report: dict[str, Any], figures: Sequence[Figure]) -> str:
    schema: Schema = report["schema"]
    return (
        _template_env()
        .get_template("report.html.j2")
        .render(
            r=report,
            figs={f.id: f for f in figures},
            frame_colours=frame_colours(schema),
            attribution_colours=attribution_colours(schema),
            frames=schema.frame_names,
            attributions=schema.attribution_names,
            model_names=MODEL_NAMES,
        )
    )


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
        "",
    ]


def render_markdown(report: dict[str, Any], figures: Sequence[Figure], figure_dir: str = "figures") -> str:
    """The same numbers as the HTML page, as Markdown (figures as PNG files beside it)."""
    schema: Schema = report["schema"]
    m = report["metrics"]
    primary = report["primary"]
    figs = {f.id: f for f in figures}

    def fig(fid: str) -> list[str]:
        f = figs.get(fid)
        return [f"![{f.alt}]({figure_dir}/{f.id}.png)", "", f"*{f.title.rstrip('.?!')}.* {f.caption}", ""] if f else []

    out = [f"# {report['title']}", ""]
    out += [f"> **Warning:** {w}" for w in report["warnings"]] + ([""] if report["warnings"] else [])
    out += [
        f"Generated {report['generated']} from `{report['metrics_path']}` (evaluated {m.get('created')}), "
        f"commit `{report['git_commit'][:10]}`. Headline model: **{model_label(primary)}**.",
        "",
        "## Data",
        "",
    ]
    d = report["data"]
    out += _md_table(
        ["source", "sentences", *schema.frame_names, *schema.attribution_names],
        [
            [
                r["source"],
                r["n"],
                *(r["frame"][f] for f in schema.frame_names),
                *(r["attribution"][a] for a in schema.attribution_names),
            ]
            for r in [*d["per_source"], d["total"]]
        ],
    )
    out += [
        f"Synthetic training set: {d['n_synthetic']} sentences ({d['n_synthetic_dropped']} dropped as "
        "near-duplicates of seed sentences), never used for evaluation.",
        "",
    ]
    out += _md_table(
        ["voice", "sentences", *schema.frame_names],
        [[s["voice"], s["n"], *(s["frame"][f] for f in schema.frame_names)] for s in d["synthetic"]],
    )
    out += ["### Annotation agreement (Cohen's kappa)", ""]
    out += _md_table(
        ["check", "sentences", "frame kappa", "frame agreement", "attribution kappa", "attribution agreement"],
        [
            [
                name,
                a["n"],
                fmt(a["frame"]["kappa"]),
                f"{a['frame']['agreement']:.1%}",
                fmt(a["attribution"]["kappa"]),
                f"{a['attribution']['agreement']:.1%}",
            ]
            for name, a in report["agreement"].items()
            if a
        ],
    )
    out += fig("fig-data-labels")
    if report["articles"]:
        from eval.articles import articles_markdown

        body = articles_markdown(report["articles"]).split("\n", 2)[2]  # without its own title
        out += ["## Quality on whole articles (closest to real outlets)", ""]
        out += [line.replace("## ", "### ", 1) if line.startswith("## ") else line for line in body.splitlines()]
        out += fig("fig-articles")
    out += [
        "## Quality",
        "",
        f"Leave-one-source-out over {len(m['protocol']['folds'])} fold groups "
        f"({m['protocol']['n_seed_sentences']} seed sentences).",
        "",
    ]
    out += _md_table(
        [
            "model",
            "training data",
            "frame macro-F1",
            "95% CI",
            "frame acc",
            "frame ECE",
            "attribution macro-F1",
            "95% CI",
            "attr acc",
            "attr ECE",
        ],
        [
            [
                MODEL_NAMES.get(r["model"], r["model"]),
                r["training_data"],
                fmt(r["frame"]["macro_f1"]),
                fmt_ci(r["frame"]["macro_f1_ci"]),
                fmt(r["frame"]["accuracy"]),
                fmt(r["frame"]["ece"]),
                fmt(r["attribution"]["macro_f1"]),
                fmt_ci(r["attribution"]["macro_f1_ci"]),
                fmt(r["attribution"]["accuracy"]),
                fmt(r["attribution"]["ece"]),
            ]
            for r in (m["models"][k] for k in report["models_sorted"])
        ],
    )
    out += fig("fig-quality-models")
    for task in ("frame", "attribution"):
        out += [f"### Per label — {task} ({model_label(primary)})", ""]
        out += _md_table(
            ["label", "precision", "recall", "F1", "support"],
            [
                [lab, fmt(v["precision"]), fmt(v["recall"]), fmt(v["f1"]), v["support"]]
                for lab, v in m["models"][primary][task]["per_label"].items()
            ],
        )
        out += fig(f"fig-confusion-{task}")
    out += fig("fig-reliability")
    out += ["### Learning curve", ""]
    if report["curve"]:
        c = report["curve"]
        out += [
            f"Models on the curve: {', '.join(model_label(x) for x in c['models'])}. "
            + " ".join(report["curve_findings"]),
            "",
        ]
        out += _md_table(
            [
                "model",
                "training data",
                "seed share",
                "seed sentences/fold",
                "frame macro-F1 (mean, min–max)",
                "attribution macro-F1 (mean, min–max)",
            ],
            [
                [
                    MODEL_NAMES.get(s["model"], s["model"]),
                    s["training_data"],
                    f"{s['fraction']:.0%}",
                    f"{s['n_train_seed_mean']:.0f}",
                    f"{fmt(s['frame']['mean'])} ({fmt(s['frame']['min'])}–{fmt(s['frame']['max'])})",
                    f"{fmt(s['attribution']['mean'])} ({fmt(s['attribution']['min'])}–{fmt(s['attribution']['max'])})",
                ]
                for s in c["summary"]
            ],
        )
        out += fig("fig-learning-curve")
    else:
        out += ["Not computed: run `framing learning-curve` (about 15 minutes for the cheap models).", ""]
    if report["voices"]:
        v = report["voices"]
        voices = sorted(v.get("voices", {}))
        out += ["### Never-seen voices (synthetic test sentences)", "", f"*{v.get('caveat', '')}*", ""]
        out += _md_table(
            ["model", "training data", *voices, "frame (all)", "attribution (all)"],
            [
                [
                    MODEL_NAMES.get(r["model"], r["model"]),
                    r["training_data"],
                    *(fmt(r["per_voice"].get(x, {}).get("frame_macro_f1")) for x in voices),
                    fmt(r["frame"]["macro_f1"]),
                    fmt(r["attribution"]["macro_f1"]),
                ]
                for r in v["models"].values()
            ],
        )
    out += ["## Sources", ""]
    out += fig("fig-seed-frames") + fig("fig-seed-slant") + fig("fig-seed-mix")
    gold, pred = m["source_profiles"].get("gold", {}), m["source_profiles"].get(primary, {})
    out += _md_table(
        [
            "seed source",
            "sentences",
            "slant gold",
            "slant predicted [95% CI]",
            "adopted slant gold",
            "adopted slant predicted [95% CI]",
            "max frame-share error",
        ],
        [
            [
                s,
                gold[s]["n_sentences"],
                fmt_signed(gold[s]["slant"]),
                f"{fmt_signed(pred[s]['slant'])} {fmt_ci(pred[s]['slant_ci'], 2)}",
                fmt_signed(gold[s].get("adopted_slant")),
                f"{fmt_signed(pred[s].get('adopted_slant'))} {fmt_ci(pred[s].get('adopted_slant_ci'), 2)}",
                fmt(m.get("profile_error", {}).get(primary, {}).get(s, {}).get("max_abs_frame_share_error")),
            ]
            for s in sorted(set(gold) & set(pred))
        ],
    )
    if report["scores"]:
        p = report["scores"]["profiles"]
        out += [f"### Scored corpus (`{report['scores']['dir']}`)", ""]
        out += fig("fig-corpus-frames") + fig("fig-corpus-slant") + fig("fig-corpus-mix")
        out += _md_table(
            [
                "source",
                "sentences",
                "slant [95% CI]",
                "adopted slant [95% CI]",
                *(f"{f} share" for f in schema.frame_names),
            ],
            [
                [
                    s,
                    p[s]["n_sentences"],
                    f"{fmt_signed(p[s].get('slant'))} {fmt_ci(p[s].get('slant_ci'), 2)}",
                    f"{fmt_signed(p[s].get('adopted_slant'))} {fmt_ci(p[s].get('adopted_slant_ci'), 2)}",
                    *(fmt(p[s]["frame_mean"].get(f)) for f in schema.frame_names),
                ]
                for s in sorted(p)
            ],
        )
    out += [
        "## Same story, different words",
        "",
        "Sentences from different seed sources aligned by MiniLM embedding similarity, with gold and "
        f"out-of-fold predicted labels ({model_label(primary)}).",
        "",
    ]
    for k, g in enumerate(report["same_story"], start=1):
        out += [f"**Group {k}** (mean similarity {g['similarity']:.2f})", ""]
        out += _md_table(
            ["source", "sentence", "gold frame / attribution", "predicted frame / attribution"],
            [
                [
                    o["source"],
                    o["text"],
                    f"{o['gold_frame']} / {o['gold_attribution']}",
                    f"{o['pred_frame']} / {o['pred_attribution']}",
                ]
                for o in g["rows"]
            ],
        )
    if report["corpus_story"]:
        out += ["### In the scored corpus (predicted labels)", ""]
        for k, g in enumerate(report["corpus_story"], start=1):
            out += [f"**Group {k}** (mean similarity {g['similarity']:.2f})", ""]
            out += _md_table(
                ["source", "sentence", "frame / attribution"],
                [[o["source"], o["text"], f"{o['frame']} / {o['attribution']}"] for o in g["rows"]],
            )
    out += ["## Errors", "", "The most confident out-of-fold mistakes, for codebook review.", ""]
    for task in ("frame", "attribution"):
        out += [f"### {task}", ""]
        out += _md_table(
            ["sentence", "source", "text", "gold", "predicted", "confidence"],
            [
                [
                    o["sentence_id"],
                    o["source"],
                    o["text"],
                    o[f"gold_{task}"],
                    o[f"pred_{task}"],
                    fmt(o[f"{task}_confidence"], 2),
                ]
                for o in report["errors"][task]
            ],
        )
    out += ["## Provenance", ""]
    mod = report["model"]
    if mod["present"]:
        info = mod["info"]
        out += [
            f"- Model: `{mod['tag']}`, trained {info.get('trained_at', '–')} at commit "
            f"`{str(info.get('git_commit', '–'))[:10]}` on data `{info.get('data_fingerprint', '–')}`",
            f"- Model training config: `{json.dumps(mod['training_config'], sort_keys=True)}`",
        ]
    else:
        out += [f"- Model: {mod['why']}"]
    out += [
        f"- Evaluation: `{report['metrics_path']}`, created {m.get('created')}, commit `{m.get('git_commit', '–')}`, "
        f"data `{m.get('data_fingerprint')}`",
        f"- Evaluation config: `{json.dumps(m['config'], sort_keys=True)}`",
        f"- Report: generated {report['generated']}, commit `{report['git_commit']}`",
    ]
    if report["curve"]:
        out.append(
            f"- Learning curve: created {report['curve'].get('created')}, commit `{report['curve'].get('git_commit')}`"
        )
    if report["scores"]:
        out.append(f"- Scores: `{report['scores']['dir']}`: {report['scores']['summary']}")
    out += ["", "Data checksums (SHA-256) recorded in metrics.json:", ""]
    out += _md_table(["file", "sha256"], sorted(m.get("data_checksums", {}).items()))
    return "\n".join(out) + "\n"


def write_report(out_dir: Path, inputs: Inputs, *, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Gather, draw and write DIR/index.html, DIR/report.md and DIR/figures/*.png; returns the paths."""
    log("reading inputs and aligning sentences across sources")
    report = gather(inputs)
    log("drawing figures")
    figures = make_figures(report)
    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for f in figures:
        (fig_dir / f"{f.id}.png").write_bytes(f.png)
    html_path, md_path = out_dir / "index.html", out_dir / "report.md"
    html_path.write_text(render_html(report, figures), encoding="utf-8")
    md_path.write_text(render_markdown(report, figures), encoding="utf-8")
    return {"html": html_path, "markdown": md_path, "figures": fig_dir}
