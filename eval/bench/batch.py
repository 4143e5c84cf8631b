"""Throughput of ``framing score`` against a naive one-article-at-a-time pipeline loop.

What it does, in one run:

1. builds a synthetic corpus (default 2,000 articles) by resampling the seed sentences
   with a seeded RNG: each article is 4-16 sentences in paragraphs of 1-3, from one of
   five made-up sources; written as JSONL to a temporary folder;
2. scores it with the batch engine (``serving.batch.run``, local engine: fixed chunks,
   length-bucketed batches of ``--batch-size``), and reads its timings from the manifest;
3. runs the naive baseline on the same articles: for each article, segment it (the same
   segmenter) and call ``transformers.pipeline("text-classification")`` on its sentences,
   one sentence per forward pass, on the same encoder + frame-head weights
   (``eval.bench.harness.build_baseline``; it labels the CLS pooler output, so it is a speed
   baseline only, see ``BASELINE_NOTE``);
4. prints articles/s and sentences/s for both, the speed-up, and writes JSON (``--out``).

    BENTOML_HOME=... python -m eval.bench.batch --articles 2000 --out reports/bench/batch.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from eval.bench.harness import (
    BASELINE_NOTE,
    build_baseline,
    check_same_weights,
    console,
    err_console,
    fail,
    machine_info,
    started_at,
    write_result,
)

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])
SOURCES = ["wire-a", "wire-b", "state-az", "state-arm", "intl"]


def synthetic_corpus(sentences: list[str], n_articles: int, seed: int) -> list[dict[str, Any]]:
    """``n_articles`` articles resampled from ``sentences`` (deterministic under ``seed``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    articles = []
    for i in range(n_articles):
        picks = [sentences[j] for j in rng.choice(len(sentences), size=int(rng.integers(4, 17)), replace=False)]
        paragraphs, at = [], 0
        while at < len(picks):
            step = int(rng.integers(1, 4))
            paragraphs.append(" ".join(picks[at : at + step]))
            at += step
        articles.append(
            {"id": f"bench-{i:05d}", "source": SOURCES[int(rng.integers(len(SOURCES)))], "text": "\n".join(paragraphs)}
        )
    return articles


def naive_loop(
    pipe: Any, articles: list[dict[str, Any]], max_length: int, context: tuple[int, int] | None = None
) -> tuple[float, int]:
    """(seconds, sentences): one article at a time, one sentence per pipeline forward pass.

    With ``context`` (the model's window and budget) each sentence goes in with the context the
    model reads, as a ``text``/``text_pair`` input: the same inputs the batch engine gives the model.
    """
    from serving.scoring import segment_articles, unit_contexts

    n_sent = 0
    t0 = time.perf_counter()
    for art in articles:
        units, _, _ = segment_articles([art])
        contexts = unit_contexts([art], units, context) or [""] * len(units)
        batch = [{"text": s.clean, "text_pair": c} if c else s.clean for (_, s), c in zip(units, contexts, strict=True)]
        if batch:
            pipe(batch, truncation=True, max_length=max_length)
        n_sent += len(batch)
    return time.perf_counter() - t0, n_sent


@app.command()
def main(
    articles: Annotated[int, typer.Option(min=1, help="Synthetic articles to build and score.")] = 2000,
    out: Annotated[Path, typer.Option(help="JSON results file.")] = Path("reports/bench/batch.json"),
    model: Annotated[
        Path | None, typer.Option(help="Exported model folder (default: framing-classifier:latest in the store).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Sentences per model batch [default: the model's, 16].")
    ] = None,
    chunk_size: Annotated[int, typer.Option(min=1, help="Articles per checkpoint chunk.")] = 64,
    seed: Annotated[int, typer.Option(help="RNG seed of the synthetic corpus.")] = 0,
    baseline: Annotated[bool, typer.Option(help="Also run the naive pipeline loop.")] = True,
) -> None:
    """Batch engine vs a naive per-article transformers.pipeline loop, same corpus, same weights."""
    from serving.batch import BatchError, ScoreOptions, resolve_model, run
    from training.dataset import load_corpus

    command = [sys.executable, "-m", "eval.bench.batch", *sys.argv[1:]]
    try:
        scorer = resolve_model(model)
    except BatchError as exc:
        fail(str(exc))
    model_dir = scorer.model_dir
    assert model_dir is not None
    seeds = [e.text for e in load_corpus(with_synthetic=False).seeds if e.text.strip()]
    corpus = synthetic_corpus(seeds, articles, seed)
    machine = machine_info()
    started = started_at()
    err_console.print(
        f"{len(corpus)} synthetic articles from {len(seeds)} seed sentences; model {scorer.tag}; "
        f"torch_threads={machine['torch_threads']}",
        highlight=False,
    )

    with tempfile.TemporaryDirectory(prefix="framing-batch-bench-") as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps(a) + "\n" for a in corpus), encoding="utf-8")
        t0 = time.perf_counter()
        result = run(
            ScoreOptions(
                inputs=[path],
                out=Path(tmp) / "out",
                model=model_dir,
                batch_size=batch_size,
                chunk_size=chunk_size,
                command=command,
            ),
            log=lambda m: err_console.print(m, highlight=False),
        )
        engine_wall = time.perf_counter() - t0
    timings = result.manifest["run"]["timings_s"]
    n_sent = result.manifest["counts"]["sentences"]
    rows: list[dict[str, Any]] = [
        {
            "name": f"framing score (local engine, batch {batch_size or 'default'}, chunks of {chunk_size})",
            "articles": len(corpus),
            "sentences": n_sent,
            "seconds": round(timings["score"], 2),
            "articles_per_s": round(len(corpus) / timings["score"], 2),
            "sentences_per_s": round(n_sent / timings["score"], 2),
            "note": f"scoring time (segmentation + model); model load {timings['load_model']:.1f} s, "
            f"read {timings['read']:.1f} s, write {timings['write']:.1f} s, whole run {engine_wall:.1f} s",
        }
    ]
    baseline_info: dict[str, Any] = {"note": BASELINE_NOTE}
    if baseline:
        pipe, clf = build_baseline(model_dir)
        diff = check_same_weights(pipe, clf, seeds[:8])
        if diff > 1e-3:
            fail(f"the baseline does not reproduce the model's logits (max diff {diff:.2e})")
        pipe(seeds[:4], truncation=True, max_length=clf.max_length)  # warm-up, unmeasured
        err_console.print("naive loop: one article at a time, one sentence per forward pass ...", highlight=False)
        seconds, base_sent = naive_loop(pipe, corpus, clf.max_length, clf.context_settings)
        rows.append(
            {
                "name": "naive loop: transformers.pipeline per article (batch 1)",
                "articles": len(corpus),
                "sentences": base_sent,
                "seconds": round(seconds, 2),
                "articles_per_s": round(len(corpus) / seconds, 2),
                "sentences_per_s": round(base_sent / seconds, 2),
                "note": "segmentation + pipeline, same weights (encoder + frame head only)",
            }
        )
        baseline_info["max_logit_diff_mean_pooled_vs_model"] = diff
    speedup = round(rows[0]["sentences_per_s"] / rows[1]["sentences_per_s"], 2) if len(rows) > 1 else None

    table = Table(
        title=f"framing score vs naive loop - {len(corpus)} articles, {n_sent} sentences", title_justify="left"
    )
    for col in ("path", "seconds", "articles/s", "sentences/s"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for r in rows:
        table.add_row(r["name"], f"{r['seconds']:.1f}", f"{r['articles_per_s']:.2f}", f"{r['sentences_per_s']:.1f}")
    console.print(table)
    if speedup is not None:
        console.print(f"speed-up (sentences/s): [bold]{speedup}x[/]", highlight=False)
    console.print(
        f"machine: {machine['platform']}, cpu_count={machine['cpu_count']}, torch_threads={machine['torch_threads']}, "
        f"load average at start {machine['load_average_at_start']}",
        highlight=False,
    )
    payload = {
        "started": started,
        "command": command,
        "model": scorer.tag,
        "machine": machine,
        "settings": {"articles": articles, "batch_size": batch_size, "chunk_size": chunk_size, "seed": seed},
        "corpus": {"articles": len(corpus), "sentences": n_sent, "seed_sentences": len(seeds)},
        "rows": rows,
        "speedup_sentences_per_s": speedup,
        "baseline": baseline_info,
    }
    out = out if out.is_absolute() else Path.cwd() / out
    write_result(out, payload)
    console.print(f"wrote {out}", highlight=False)


if __name__ == "__main__":
    app()
