"""Step 3, rendering: the HTML page (Jinja2 template) and its Markdown twin from the ``report`` dict and
figures, and ``write_report``, which runs the three steps and writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.report.data import Inputs, gather
from eval.report.figures import Figure, attribution_colours, frame_colours, make_figures
from eval.report.formatting import MODEL_NAMES, fmt, fmt_ci, fmt_signed, model_label
from model.schema import Schema

MAX_TIMELINE_ROWS = 300  # rows of timeline.csv printed in the page and the Markdown; the file has them all


# ------------------------------------------------------------------ rendering
def _template_env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
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
            max_timeline_rows=MAX_TIMELINE_ROWS,
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


def _timeline_markdown(scores: dict[str, Any], figure: list[str]) -> list[str]:
    """The corpus-over-time part of the Sources section; ``figure``: the lines referencing its figure."""
    tl, per = scores.get("timeline"), scores.get("timeline_period")
    if tl is None:
        return []
    if not tl:
        return [
            "No timeline: none of the scored articles has a date (give a date column, a `published` column in "
            "`sources.csv`, or HTML pages that carry their publication date).",
            "",
        ]
    out = ["#### Over time", "", *figure]
    if scores.get("timeline_note"):
        out += [f"{scores['timeline_note']}.", ""]
    shown = tl[:MAX_TIMELINE_ROWS]
    if len(tl) > len(shown):
        out += [f"The first {len(shown)} of {len(tl)} rows of `timeline.csv`:", ""]
    out += _md_table(
        ["source", f"{per} from", "articles", "sentences", "slant [95% CI]", "adopted slant [95% CI]", "low n"],
        [
            [
                t["source"],
                t["period_start"],
                t["n_articles"],
                t["n_sentences"],
                f"{fmt_signed(t['slant'])} {fmt_ci([t['slant_lo'], t['slant_hi']], 2)}",
                f"{fmt_signed(t.get('adopted_slant'))} "
                f"{fmt_ci([t.get('adopted_slant_lo'), t.get('adopted_slant_hi')], 2)}",
                "low n" if t["low_n"] else "",
            ]
            for t in shown
        ],
    )
    return out


def _active_learning_markdown(al: dict[str, Any] | None, fig: Any) -> list[str]:
    """The active-learning subsection (``framing annotate curve``): findings, the paired table, the figure."""
    out = ["### Active learning: does labelling the least certain sentences first pay?", ""]
    if not al:
        return [*out, "Not computed: run `framing annotate curve` (or `make active-learning`).", ""]
    out += [
        f"{al['protocol']['data']}; {al['protocol']['split']}; {al['repeats']} repeats. "
        "Uncertainty minus random, paired by repeat (95% t-interval):",
        "",
    ]
    out += _md_table(
        ["model", "labelled", "frame difference", "attribution difference"],
        [
            [
                model_label(p["model"]),
                p["n_labelled"],
                f"{fmt_signed(p['frame']['mean'], 3)} [{fmt_signed(p['frame']['ci'][0], 3)}, "
                f"{fmt_signed(p['frame']['ci'][1], 3)}]",
                f"{fmt_signed(p['attribution']['mean'], 3)} [{fmt_signed(p['attribution']['ci'][0], 3)}, "
                f"{fmt_signed(p['attribution']['ci'][1], 3)}]",
            ]
            for p in al["paired"]
        ],
    )
    out += [f"- {f}" for f in al.get("findings", [])] + [""]
    return out + fig("fig-active-learning")


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
    out += _active_learning_markdown(report.get("active_learning"), fig)
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
        out += _timeline_markdown(report["scores"], fig("fig-corpus-timeline"))
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
    if report.get("active_learning"):
        al = report["active_learning"]
        out.append(f"- Active-learning curve: created {al.get('created')}, commit `{al.get('git_commit')}`")
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
