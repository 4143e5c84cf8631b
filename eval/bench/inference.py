"""CPU inference benchmark: ``transformers.pipeline`` against our torch and ONNX Runtime paths.

What it does, in one run on one machine:

1. starts one worker process per contender -- the baseline (``transformers.pipeline``
   "text-classification", its default one sentence per forward pass, on the same encoder
   and frame-head weights; see ``eval.bench.harness.build_baseline``), the same pipeline
   batched, our fp32 torch path, ONNX Runtime fp32, per-token int8 (the default) and guarded
   int8 -- and records each one's model load time and peak RSS (``ru_maxrss`` of its own
   process);
2. sends every worker the same calls of ``--call-size`` sentences (the seed sentences and
   the team-written article sentences, in file order, each with the context the model reads:
   ``model.context``, the same pairs for every contender; a call is what one batch-scoring chunk
   or one merged service batch hands the model, and each path batches it its own way:
   ``--batch-size`` for ours, 1 or 32 for the pipeline) for ``--rounds`` rounds, taking turns,
   so a busy machine slows every contender alike; records sentences/s (median round) and
   p50/p99 per-call latency;
3. measures agreement with the fp32 torch model (frame and attribution labels, on the seed
   sentences and on all sentences), and, with ``--loso``, the leave-one-source-out macro-F1
   of each of our backends on fold models trained here (epochs from metrics.json);
4. prints tables and writes JSON (``--out``).

    python -m eval.bench.inference --out reports/bench/inference.json
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from eval.bench.harness import (
    MODEL_TAG,
    console,
    err_console,
    fail,
    machine_info,
    percentiles,
    started_at,
    write_result,
)

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])

BASELINE = "pipeline (bs=1)"
CONTENDERS = {  # name -> (kind, setting)
    BASELINE: ("pipeline", 1),
    "pipeline (bs=32)": ("pipeline", 32),
    "torch fp32": ("ours", "torch"),
    "onnx fp32": ("ours", "onnx"),
    "onnx int8 (default)": ("ours", "onnx-int8"),
    "onnx int8 guarded": ("ours", "onnx-int8-guarded"),
}
AGREEMENT_BAR = 0.99
LOSO_BAR = 0.01


# ------------------------------------------------------------------ the workers
def _worker(conn: Any, model_dir: str, kind: str, setting: Any, batch_size: int | None, max_length: int) -> None:
    """Load one contender, then answer commands: ('round', calls) -> latencies; ('labels', calls) -> argmax."""
    import torch

    from model.onnx_backend import default_threads

    torch.set_num_threads(default_threads())
    t0 = time.perf_counter()
    if kind == "pipeline":
        from eval.bench.harness import build_baseline

        pipe, _ = build_baseline(Path(model_dir))

        def run(batch: list[tuple[str, str]]) -> Any:
            inputs = [{"text": s, "text_pair": c} if c else s for s, c in batch]
            return pipe(inputs, batch_size=setting, truncation=True, max_length=max_length)

    else:
        from model.classifier import FramingClassifier

        clf = FramingClassifier.load(model_dir, backend=setting)

        def run(batch: list[tuple[str, str]]) -> Any:
            contexts = [c for _, c in batch] if clf.context_settings else None
            return clf.predict_proba([s for s, _ in batch], batch_size=batch_size, contexts=contexts)

    load_s = time.perf_counter() - t0
    conn.send({"load_s": round(load_s, 2)})
    while True:
        command, calls = conn.recv()
        if command == "stop":
            break
        if command == "round":
            latencies = []
            for batch in calls:
                c0 = time.perf_counter()
                run(batch)
                latencies.append(time.perf_counter() - c0)
            conn.send({"latencies": latencies})
        elif command == "labels":
            fp, ap = (torch.cat(x) for x in zip(*(run(batch) for batch in calls), strict=True))
            # the same sentences in one call: do a sentence's probabilities depend on its batch-mates?
            whole, _ = run([s for batch in calls for s in batch])
            conn.send(
                {
                    "frame": fp.argmax(1).numpy(),
                    "attribution": ap.argmax(1).numpy(),
                    "batch_dependence": float((whole - fp).abs().max()),
                }
            )
    conn.send({"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


class Worker:
    def __init__(self, ctx: Any, name: str, model_dir: Path, batch_size: int | None, max_length: int):
        kind, setting = CONTENDERS[name]
        self.name, self.kind = name, kind
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(
            target=_worker, args=(child, str(model_dir), kind, setting, batch_size, max_length), daemon=True
        )
        self.proc.start()
        self.load_s = self.conn.recv()["load_s"]
        self.latencies: list[float] = []
        self.round_rates: list[float] = []

    def ask(self, command: str, calls: list[list[str]] | None = None) -> dict[str, Any]:
        self.conn.send((command, calls))
        return self.conn.recv()

    def stop(self) -> float:
        rss = self.ask("stop")["peak_rss_mb"]
        self.proc.join(timeout=30)
        return rss


# ------------------------------------------------------------------ LOSO check
def loso_backends(epochs: int, log: Any) -> dict[str, Any]:
    """Leave-one-source-out macro-F1 of each backend on the same fold models (trained here, fixed epochs).

    Why fixed epochs and no nested selection: this measures what the backend loses on a
    given model, not the model's quality (that is ``framing evaluate``'s job).
    """
    from eval.evaluate import macro_f1_of
    from model.classifier import FramingClassifier
    from training.config import TrainingConfig
    from training.dataset import load_corpus
    from training.train import train_classifier

    corpus = load_corpus()
    schema, seeds = corpus.schema, corpus.seeds
    config = TrainingConfig(epochs=epochs)
    backends = ["torch", "onnx", "onnx-int8", "onnx-int8-guarded"]
    oof = {
        b: (np.zeros((len(seeds), len(schema.frame_names))), np.zeros((len(seeds), len(schema.attribution_names))))
        for b in backends
    }
    for fold, train_idx, test_idx in corpus.fold_splits():
        log(f"  LOSO fold {fold}: training on {len(train_idx)} seed + {len(corpus.synthetic)} synthetic sentences")
        clf, _ = train_classifier([seeds[i] for i in train_idx] + list(corpus.synthetic), schema, config)
        with tempfile.TemporaryDirectory() as tmp:
            clf.save(tmp)
            test = [seeds[i].clean for i in test_idx]
            for b in backends:
                f, a = FramingClassifier.load(tmp, backend=b).predict_proba(test)
                oof[b][0][test_idx], oof[b][1][test_idx] = f.numpy(), a.numpy()
    gold_f, gold_a = [e.frame for e in seeds], [e.attribution for e in seeds]
    out: dict[str, Any] = {"epochs": epochs, "folds": list(corpus.plan.fold_sources), "backends": {}}
    for b in backends:
        out["backends"][b] = {
            "frame_macro_f1": round(macro_f1_of(gold_f, oof[b][0], schema.frame_names), 4),
            "attribution_macro_f1": round(macro_f1_of(gold_a, oof[b][1], schema.attribution_names), 4),
        }
    ref = out["backends"]["torch"]
    for b in backends:
        row = out["backends"][b]
        row["frame_loss_vs_torch"] = round(ref["frame_macro_f1"] - row["frame_macro_f1"], 4)
        row["attribution_loss_vs_torch"] = round(ref["attribution_macro_f1"] - row["attribution_macro_f1"], 4)
    return out


# ------------------------------------------------------------------ CLI
@app.command()
def main(
    out: Annotated[Path, typer.Option(help="JSON results file.")] = Path("reports/bench/inference.json"),
    model: Annotated[Path | None, typer.Option(help="Saved model folder (default: framing-classifier:latest).")] = None,
    call_size: Annotated[int, typer.Option(min=1, help="Sentences per call (a scoring chunk).")] = 256,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Our model's forward batch [default: the model's, 16].")
    ] = None,
    rounds: Annotated[int, typer.Option(min=1, help="Timed rounds per contender (taking turns).")] = 3,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Use the first N sentences (seeds first, then articles) [default: all].")
    ] = None,
    loso: Annotated[
        bool, typer.Option(help="Also train LOSO fold models and compare backends' macro-F1 (sentence-only, slow).")
    ] = False,
) -> None:
    """Throughput, latency, memory, load time and agreement of every inference path, in one run."""
    from model.classifier import ModelLoadError
    from model.context import context_settings
    from model.onnx_backend import ONNX_FILE, default_threads
    from model.store import store_model
    from training.dataset import load_corpus

    if model is None:
        try:
            model, _ = store_model(MODEL_TAG)
        except ModelLoadError as exc:
            fail(f"{exc}; run 'make train' or pass --model")
    if not (model / ONNX_FILE).is_file():
        fail(f"{model} has no {ONNX_FILE}; re-train ('make train') to export it")
    corpus = load_corpus(with_synthetic=False)
    seed_n = len(corpus.seeds)
    config = json.loads((model / "training_config.json").read_text())
    examples = [*corpus.seeds, *corpus.articles]
    if settings := context_settings(config):
        examples = corpus.with_context(examples, *settings)
    sentences = [(e.clean, e.context) for e in examples][:limit]
    seed_n = min(seed_n, len(sentences))
    calls = [sentences[i : i + call_size] for i in range(0, len(sentences), call_size)]
    max_length = int(config.get("max_length", 128))
    machine = {**machine_info(), "onnx_threads": default_threads()}  # before the load: its load average is "at start"
    ctx = mp.get_context("spawn")
    err_console.print(
        f"model {model}; {len(sentences)} sentences in {len(calls)} calls of {call_size}; {rounds} rounds"
    )
    workers = []
    for name in CONTENDERS:
        err_console.print(f"  loading {name} ...")
        workers.append(Worker(ctx, name, model, batch_size, max_length))
    for r in range(rounds):
        for w in workers:
            t0 = time.perf_counter()
            lat = w.ask("round", calls)["latencies"]
            w.round_rates.append(len(sentences) / (time.perf_counter() - t0))
            w.latencies.extend(lat)
            err_console.print(f"  round {r + 1}/{rounds} {w.name}: {w.round_rates[-1]:.1f} sentences/s")
    labels = {w.name: w.ask("labels", calls) for w in workers if w.kind == "ours"}
    rss = {w.name: w.stop() for w in workers}
    ref = labels["torch fp32"]
    base_rate = float(np.median(next(w for w in workers if w.name == BASELINE).round_rates))
    rows = []
    for w in workers:
        rate = float(np.median(w.round_rates))
        row: dict[str, Any] = {
            "name": w.name,
            "sentences_per_s": round(rate, 1),
            "speedup_vs_baseline": round(rate / base_rate, 2),
            **{k: v for k, v in percentiles(w.latencies, digits=1).items() if k != "p95_ms"},
            "peak_rss_mb": rss[w.name],
            "load_s": w.load_s,
        }
        if w.name in labels:
            mine = labels[w.name]
            for head in ("frame", "attribution"):
                row[f"{head}_agreement_seed"] = round(float((mine[head][:seed_n] == ref[head][:seed_n]).mean()), 4)
                row[f"{head}_agreement_all"] = round(float((mine[head] == ref[head]).mean()), 4)
            row["max_prob_change_with_batch_mates"] = round(mine["batch_dependence"], 6)
        rows.append(row)

    table = Table(title=f"CPU inference, {len(sentences)} sentences, calls of {call_size}", title_justify="left")
    cols = [
        "sent/s",
        "x baseline",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "load s",
        "frame agree (seed/all)",
        "batch-mate drift",
    ]
    table.add_column("path")
    for c in cols:
        table.add_column(c, justify="right")
    for row in rows:
        agree = (
            f"{row['frame_agreement_seed']:.2%} / {row['frame_agreement_all']:.2%}"
            if "frame_agreement_seed" in row
            else "n/a (CLS head)"
        )
        table.add_row(
            row["name"],
            f"{row['sentences_per_s']:.1f}",
            f"{row['speedup_vs_baseline']:.2f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['peak_rss_mb']:.0f}",
            f"{row['load_s']:.1f}",
            agree,
            f"{row['max_prob_change_with_batch_mates']:.0e}" if "frame_agreement_seed" in row else "",
        )
    console.print(table)
    result: dict[str, Any] = {
        "started": started_at(),
        "command": [sys.executable, "-m", "eval.bench.inference", *sys.argv[1:]],
        "model": str(model),
        "machine": machine,
        "settings": {
            "sentences": len(sentences),
            "with_context": bool(config.get("context")),
            "mean_context_chars": round(float(np.mean([len(c) for _, c in sentences])), 1),
            "call_size": call_size,
            "limit": limit,
            "batch_size": batch_size,
            "rounds": rounds,
        },
        "baseline": BASELINE,
        "targets": {"speedup": 3.0, "frame_agreement_seed": AGREEMENT_BAR, "loso_macro_f1_loss": LOSO_BAR},
        "rows": rows,
    }
    if loso:
        from eval.evaluate import recommended_epochs

        epochs = recommended_epochs(Path("reports/eval/metrics.json")) or 3
        result["loso"] = loso_backends(epochs, lambda m: err_console.print(m))
        t = Table(title=f"Leave-one-source-out macro-F1 by backend (same fold models, {epochs} epochs)")
        for c in ("backend", "frame F1", "frame loss", "attribution F1", "attribution loss"):
            t.add_column(c, justify="left" if c == "backend" else "right")
        for b, m in result["loso"]["backends"].items():
            t.add_row(
                b,
                f"{m['frame_macro_f1']:.4f}",
                f"{m['frame_loss_vs_torch']:+.4f}",
                f"{m['attribution_macro_f1']:.4f}",
                f"{m['attribution_loss_vs_torch']:+.4f}",
            )
        console.print(t)
    write_result(out, result)
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
