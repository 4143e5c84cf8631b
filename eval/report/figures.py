"""Step 2, figures: matplotlib (Agg) PNGs drawn from the ``report`` dict, one ``Figure`` per plot."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.report.formatting import (
    ATTRIBUTION_COLOURS,
    FRAME_COLOURS_BY_NAME,
    MODEL_STYLE,
    OKABE_ITO,
    fmt,
    fmt_signed,
    model_label,
)
from model.schema import Schema


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


MAX_TIMELINE_SOURCES = 12  # small multiples beyond this are unreadable; the rest stay in timeline.csv


def timeline_sources(rows: list[dict[str, Any]]) -> list[str]:
    """The sources the timeline figure shows: most sentences first, at most ``MAX_TIMELINE_SOURCES``."""
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["source"]] = totals.get(r["source"], 0) + int(r["n_sentences"])
    return sorted(totals, key=lambda s: (-totals[s], s))[:MAX_TIMELINE_SOURCES]


def _timeline_figure(plt, scores: dict[str, Any], schema: Schema) -> Figure:
    """Slant per period, one small panel per source: CI band and whiskers, hollow markers for low-n periods."""
    from datetime import date

    import matplotlib.dates as mdates
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FixedLocator

    from model.timeline import LOW_N

    rows = scores["timeline"]
    shown = timeline_sources(rows)
    n_sources = len({r["source"] for r in rows})
    ncols = 1 if len(shown) == 1 else 2
    nrows = -(-len(shown) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 2.3 * nrows + 0.9), sharex=True, sharey=True, squeeze=False)
    sides = side_colours(schema)
    profiles = scores["profiles"]
    for ax, src in zip(axes.flat, shown, strict=False):
        pts = sorted(
            (r for r in rows if r["source"] == src and r["slant"] is not None), key=lambda r: r["period_start"]
        )
        overall = (profiles.get(src) or {}).get("slant") or 0.0
        colour = sides[schema.positive_side] if overall >= 0 else sides[schema.negative_side]
        x = [date.fromisoformat(r["period_start"]) for r in pts]
        y = [r["slant"] for r in pts]
        lo = [r["slant_lo"] if r["slant_lo"] is not None else r["slant"] for r in pts]
        hi = [r["slant_hi"] if r["slant_hi"] is not None else r["slant"] for r in pts]
        ax.axhline(0, color="#bbbbbb", lw=0.8, zorder=0)
        ax.fill_between(x, lo, hi, color=colour, alpha=0.16, lw=0)
        ax.vlines(x, lo, hi, color=colour, lw=1.1, alpha=0.75)
        ax.plot(x, y, color=colour, lw=1.2, alpha=0.9)
        for xk, yk, r in zip(x, y, pts, strict=True):
            ax.plot([xk], [yk], "o", ms=6, color=colour, markerfacecolor="white" if r["low_n"] else colour, mew=1.4)
        n = sum(int(r["n_sentences"]) for r in rows if r["source"] == src)
        ax.set_title(f"{src} (n={n} dated sentences)", loc="left")
        ax.set_ylim(-1.05, 1.05)
        ax.grid(axis="y", color="#eeeeee")
    for ax in axes.flat[len(shown) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"slant\n← {schema.negative_side}   {schema.positive_side} →")
    starts = sorted({date.fromisoformat(r["period_start"]) for r in rows if r["source"] in shown})
    # Few periods: a tick on each period's first day (the label the rows carry); many: matplotlib's choice.
    locator = (
        FixedLocator(mdates.date2num(starts)) if len(starts) <= 8 else mdates.AutoDateLocator(minticks=3, maxticks=8)
    )
    for ax in axes[-1, :]:
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.legend(
        handles=[
            Line2D([], [], marker="o", color="#444444", ms=6, label="slant in the period"),
            Line2D(
                [],
                [],
                marker="o",
                color="#444444",
                ms=6,
                markerfacecolor="white",
                label=f"fewer than {LOW_N} sentences (low n)",
            ),
            Patch(color="#444444", alpha=0.16, label="95% CI"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=3,
        fontsize=8.5,
    )
    period = scores.get("timeline_period") or "period"
    more = (
        f" Showing the {len(shown)} of {n_sources} sources with the most dated sentences."
        if len(shown) < n_sources
        else ""
    )
    return Figure(
        "fig-corpus-timeline",
        "Scored corpus: slant over time",
        f"Slant per source and {period} (x = the {period}'s first day; weeks are ISO weeks, Monday to Sunday), "
        "computed exactly as the source profiles are; band and whiskers = 95% bootstrap CI. Hollow markers: "
        f"fewer than {LOW_N} sentences in that {period}, too few to read a change from. Articles without a date "
        f"are not on it.{more}",
        f"Line charts of slant per {period} with confidence bands, one panel per source.",
        _png(fig),
    )


def active_learning_figure(plt, al: dict[str, Any]) -> Figure:
    """Macro-F1 on held-out sources against labelled sentences: uncertainty sampling vs random, per model and task.

    Lines are means across repeats, bands their 95% t-intervals; the dotted line is every pool
    sentence labelled (the ceiling). Read from ``active_learning.json`` (``eval.active_learning``).
    """
    models = al["models"]
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.9 * len(models)), sharey="row", squeeze=False)
    style = {
        "uncertainty": ("#D55E00", "-", "uncertainty (smallest margin, spread)"),
        "random": ("#666666", "--", "random"),
    }
    for row, model in enumerate(models):
        for ax, task in zip(axes[row], ("frame", "attribution"), strict=True):
            for strategy, (colour, ls, label) in style.items():
                pts = sorted(
                    (s for s in al["summary"] if s["model"] == model and s["strategy"] == strategy),
                    key=lambda s: s["n_labelled"],
                )
                x = [s["n_labelled"] for s in pts]
                ax.fill_between(
                    x, [s[task]["ci"][0] for s in pts], [s[task]["ci"][1] for s in pts], color=colour, alpha=0.15, lw=0
                )
                ax.plot(x, [s[task]["mean"] for s in pts], ls=ls, marker="o", ms=4, color=colour, label=label)
            ceiling = next((s for s in al["summary"] if s["model"] == model and s["strategy"] == "all"), None)
            if ceiling is not None:
                ax.axhline(ceiling[task]["mean"], ls=":", color="black", lw=1, label="every pool sentence labelled")
            ax.set_xscale("log", base=2)
            ax.set_xticks(al["budgets"], [str(b) for b in al["budgets"]])
            ax.set_xlabel("labelled sentences")
            ax.set_title(f"{task} macro-F1 on held-out outlets", loc="left")
            ax.grid(color="#f0f0f0")
        axes[row][0].set_ylabel(f"{model_label(model)}\nmacro-F1")
    fig.subplots_adjust(hspace=0.45)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8)
    return Figure(
        "fig-active-learning",
        "Active learning: does labelling the least certain sentences first pay?",
        f"Mean of {al['repeats']} repeats (each: a new held-out split of {al['test_share']:.0%} of each camp's "
        f"outlets, a new random start of {al['start']} sentences shared by both strategies); bands = 95% t-interval "
        "across repeats (the paired differences in the table are tighter: both strategies share each repeat's split). "
        "Uncertainty: the model trained at the previous budget picks the next batch by smallest top-two margin of "
        "either head, spread over sources and articles, as 'framing annotate export' orders tasks.",
        "Line charts of macro-F1 against labelled sentences for uncertainty sampling and random sampling.",
        _png(fig),
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

    # --- quality: active learning (framing annotate curve), when its result is present
    if report.get("active_learning"):
        figs.append(active_learning_figure(plt, report["active_learning"]))

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
        if scores.get("timeline"):
            figs.append(_timeline_figure(plt, scores, schema))
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
    if report.get("active_learning"):
        ids.append("fig-active-learning")
    if set(report["metrics"]["source_profiles"].get("gold", {})) & set(
        report["metrics"]["source_profiles"].get(report["primary"], {})
    ):
        ids += ["fig-seed-frames", "fig-seed-slant", "fig-seed-mix"]
    if report["scores"]:
        ids += ["fig-corpus-frames", "fig-corpus-slant", "fig-corpus-mix"]
        if report["scores"].get("timeline"):
            ids.append("fig-corpus-timeline")
    return ids
