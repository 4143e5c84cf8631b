"""The one-screen summary ``framing score`` prints: counts, rejects by reason, per-source slant."""

from __future__ import annotations

from typing import Any

from serving.batch.records import RunResult


# ------------------------------------------------------------------------ summary
def _fmt(x: Any) -> str:
    return "–" if x is None else f"{x:+.2f}"


def _ci(p: dict[str, Any], key: str) -> str:
    lo, hi = p.get(f"{key}_ci") or (None, None)
    return "" if lo is None or hi is None else f"[{lo:+.2f}, {hi:+.2f}]"


def print_summary(result: RunResult, console: Any, max_sources: int = 15) -> None:
    """One screen: counts, rejects by reason, and the per-source slant table."""
    from rich.table import Table

    m, c = result.manifest, result.manifest["counts"]
    run_info = m.get("run", {})
    head = (
        f"[bold]{c['articles']}[/] articles, [bold]{c['sentences']}[/] sentences, {c['sources']} sources "
        f"from {c['input_files']} input file{'s' if c['input_files'] != 1 else ''} → {result.out}"
    )
    if result.already_complete:
        head += " (already complete: nothing re-scored)"
    console.print(head, highlight=False)
    if run_info:
        t = run_info["timings_s"]
        speed = (
            f"{run_info['articles_per_s']} articles/s, {run_info['sentences_per_s']} sentences/s"
            if run_info.get("articles_per_s")
            else "nothing new to score"
        )
        console.print(
            f"scored {run_info['scored_articles']} articles in {t['score']:.1f} s ({speed}); "
            f"resumed {run_info['resumed_articles']} from the checkpoint; total {t['total']:.1f} s",
            highlight=False,
        )
    if c["non_english_articles"] or c["articles_without_sentences"]:
        console.print(
            f"[yellow]{c['non_english_articles']} articles look non-English (labels unreliable), "
            f"{c['articles_without_sentences']} have no content sentences[/] (see articles.csv)",
            highlight=False,
        )
    for w in m.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if result.rejects:
        reasons = ", ".join(f"{n} {r}" for r, n in c["rejects_by_reason"].items())
        console.print(
            f"[bold red]{len(result.rejects)} records rejected[/] ({reasons}); every one is in "
            f"{result.out / result.files['rejects']} with its file, line or row and reason. Exit code 1.",
            highlight=False,
        )
        for r in result.rejects[:5]:
            console.print(f"  {r.where()}: {r.reason}", highlight=False)
        if len(result.rejects) > 5:
            console.print(f"  … {len(result.rejects) - 5} more", highlight=False)
    else:
        console.print("[green]no records rejected[/]")
    table = Table(title="per-source slant (+ = AZ-aligned framing, − = ARM-aligned)", title_justify="left")
    for col in ("source", "sentences", "slant", "95% CI", "adopted slant", "95% CI"):
        table.add_column(col, justify="left" if col == "source" else "right")
    ranked = sorted(result.profiles.items(), key=lambda kv: (-kv[1]["n_sentences"], kv[0]))
    for name, p in ranked[:max_sources]:
        table.add_row(
            name,
            str(p["n_sentences"]),
            _fmt(p.get("slant")),
            _ci(p, "slant"),
            _fmt(p.get("adopted_slant")),
            _ci(p, "adopted_slant"),
        )
    if len(ranked) > max_sources:
        table.caption = f"{len(ranked) - max_sources} more sources in sources.csv"
    if ranked:
        console.print(table)
    tl = c.get("timeline")
    if tl and tl.get("rows"):
        console.print(
            f"timeline: {tl['rows']} source × {tl['period']} rows ({tl['low_n_rows']} with fewer than "
            f"{tl['low_n_threshold']} sentences, flagged low_n) in {result.files.get('timeline', 'timeline.csv')}",
            highlight=False,
        )
    if c.get("html_articles"):
        console.print(
            f"{c['html_articles']} articles extracted from HTML: their text (what sentence offsets refer to) is in "
            f"{result.out / result.files.get('extracted_texts', 'extracted/')}, indexed by "
            f"{result.files.get('extracted', 'extracted.csv')}",
            highlight=False,
        )
    keys = ("sentences", "articles", "sources", "timeline", "extracted", "rejects")
    console.print(
        "outputs: " + ", ".join(result.files[k] for k in keys if k in result.files) + ", manifest.json",
        highlight=False,
    )
