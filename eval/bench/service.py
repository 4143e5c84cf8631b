"""Load benchmark of the real HTTP service, with an in-process ``transformers`` baseline.

What it does, in one run:

1. starts ``python -m bentoml serve serving.service:FramingService`` on 127.0.0.1 (a free
   port) from the repository root, waits for ``GET /readyz`` (bounded), and always stops it;
2. for every (concurrency, sentences-per-request) pair sends a fixed number of
   ``POST /classify`` requests built from the seed sentences (cycled deterministically; as
   ``{text, context}`` items with the context ``/score`` would build when the model reads it),
   and records per-request latency, errors, wall time and the server's peak RSS (the server
   process and all its children, sampled with psutil while the load runs);
3. runs the same sentences through ``transformers.pipeline("text-classification")`` on the
   same weights (encoder + frame head wrapped in ``BertForSequenceClassification``), batch
   size 1 and 16, as a speed baseline;
4. prints a table and writes everything as JSON (``--out``).

Everything is bounded: fixed request counts, a timeout on every HTTP call, a bounded
startup wait, and the server is terminated (then killed) whatever happens.

    BENTOML_HOME=... python -m eval.bench.service --requests 96 --out reports/bench/service.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from eval.bench.harness import (
    BASELINE_NOTE,
    MODEL_TAG,
    RssSampler,
    build_baseline,
    check_same_weights,
    console,
    err_console,
    fail,
    machine_info,
    model_context,
    percentiles,
    pipe_input,
    seed_items,
    started_at,
    tree_rss_bytes,
    write_result,
)
from serving.server_process import REPO, Server

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


# --------------------------------------------------------------------- statistics
@dataclass
class Row:
    """One line of the results table (service scenario or baseline)."""

    name: str
    concurrency: int
    sentences_per_request: int
    requests: int
    ok: int
    errors: int
    wall_s: float
    sentences_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float | None
    rss_scope: str
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_sample: str | None = None


# ------------------------------------------------------------------ RSS sampling
# -------------------------------------------------------------------- the server
def _check_store() -> tuple[Path, str]:
    """(folder, resolved tag) of the model the server will load; a clear error when there is none."""
    from model.classifier import ModelLoadError
    from model.store import store_model

    try:
        return store_model(MODEL_TAG)
    except ModelLoadError as exc:
        fail(f"{exc}. Run 'make train' (or 'framing train') first, or point BENTOML_HOME at a store that holds one.")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------- the load
def _request_batches(sentences: list[str], n_requests: int, per_request: int) -> list[list[str]]:
    """Request i gets sentences i*k .. i*k+k-1 of the seed list, cycled (deterministic)."""
    n = len(sentences)
    return [[sentences[(i * per_request + j) % n] for j in range(per_request)] for i in range(n_requests)]


def _one_request(client: Any, batch: list[str]) -> tuple[float, str | None, str | None]:
    """(latency s, error kind or None, error detail or None)."""
    import httpx

    t0 = time.perf_counter()
    try:
        r = client.post("/classify", json={"sentences": batch})
        latency = time.perf_counter() - t0
    except httpx.HTTPError as exc:
        return time.perf_counter() - t0, type(exc).__name__, str(exc)[:300]
    if r.status_code != 200:
        return latency, f"http_{r.status_code}", r.text[:300]
    try:
        body = r.json()
    except ValueError:
        return latency, "bad_json", r.text[:300]
    if not isinstance(body, list) or len(body) != len(batch) or not all("frame" in x for x in body):
        return latency, "bad_body", r.text[:300]
    return latency, None, None


def run_scenario(
    server: Server, sentences: list[str], concurrency: int, per_request: int, n_requests: int, timeout_s: float
) -> Row:
    import httpx

    batches = _request_batches(sentences, n_requests, per_request)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        httpx.Client(base_url=server.base, timeout=httpx.Timeout(timeout_s), limits=limits) as client,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"load-c{concurrency}") as pool,
        RssSampler(server.pid) as rss,
    ):
        t0 = time.perf_counter()
        # Every call has its own timeout, so this wait is bounded too (plus a margin).
        results = list(pool.map(lambda b: _one_request(client, b), batches, timeout=timeout_s * n_requests + 60))
        wall = time.perf_counter() - t0
    ok_lat = [lat for lat, kind, _ in results if kind is None]
    kinds = Counter(kind for _, kind, _ in results if kind is not None)
    sample = next((detail for _, kind, detail in results if kind is not None), None)
    return Row(
        name="service",
        concurrency=concurrency,
        sentences_per_request=per_request,
        requests=n_requests,
        ok=len(ok_lat),
        errors=sum(kinds.values()),
        wall_s=round(wall, 3),
        sentences_per_s=round(len(ok_lat) * per_request / wall, 2) if wall > 0 else 0.0,
        **percentiles(ok_lat),
        peak_rss_mb=rss.peak_mb,
        rss_scope="server + children",
        error_kinds=dict(kinds),
        error_sample=sample,
    )


def warm_up(server: Server, sentences: list[str], n: int, timeout_s: float) -> None:
    import httpx

    with httpx.Client(base_url=server.base, timeout=httpx.Timeout(timeout_s)) as client:
        for batch in _request_batches(sentences, n, 16):
            _one_request(client, batch)


# ------------------------------------------------------------------ the baseline
def run_baseline(
    pipe: Any, sentences: list[str], batch_size: int, total: int, max_length: int, warmup: int
) -> tuple[Row, list[list[str]], list[str]]:
    """(timing row, the sentence batches sent, the pipeline's label for each sentence in order)."""
    import psutil

    calls = _request_batches(sentences, max(1, total // batch_size), batch_size)
    kwargs = {"batch_size": batch_size, "truncation": True, "max_length": max_length}
    for batch in calls[:warmup]:
        pipe([pipe_input(x) for x in batch], **kwargs)
    me = psutil.Process()
    latencies: list[float] = []
    labels: list[str] = []
    with RssSampler(me.pid) as rss:
        t0 = time.perf_counter()
        for batch in calls:
            c0 = time.perf_counter()
            out = pipe([pipe_input(x) for x in batch], **kwargs)
            latencies.append(time.perf_counter() - c0)
            labels.extend(o["label"] for o in out)
        wall = time.perf_counter() - t0
    n_sent = sum(len(b) for b in calls)
    row = Row(
        name=f"pipeline bs={batch_size}",
        concurrency=1,
        sentences_per_request=batch_size,
        requests=len(calls),
        ok=len(calls),
        errors=0,
        wall_s=round(wall, 3),
        sentences_per_s=round(n_sent / wall, 2) if wall > 0 else 0.0,
        **percentiles(latencies),
        peak_rss_mb=rss.peak_mb,
        rss_scope="benchmark process (in-process)",
    )
    return row, calls, labels


# ---------------------------------------------------------------------- reporting
def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(rows: list[Row], title: str) -> None:
    table = Table(title=title, title_justify="left")
    for col in (
        "name",
        "conc",
        "sent/req",
        "requests",
        "sent/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "peak RSS MB",
    ):
        table.add_column(col, justify="left" if col == "name" else "right")
    for r in rows:
        table.add_row(
            r.name,
            str(r.concurrency),
            str(r.sentences_per_request),
            str(r.requests),
            _fmt(r.sentences_per_s),
            _fmt(r.p50_ms),
            _fmt(r.p95_ms),
            _fmt(r.p99_ms),
            f"[red]{r.errors}[/]" if r.errors else "0",
            _fmt(r.peak_rss_mb) + ("" if r.rss_scope.startswith("server") else " *"),
        )
    console.print(table)


# ---------------------------------------------------------------------------- CLI
@app.command()
def main(
    requests: Annotated[int, typer.Option(min=1, help="Requests per (concurrency, sentences/request) pair.")] = 96,
    concurrency: Annotated[
        list[int] | None, typer.Option(help="Concurrent clients, repeatable [default: 1 8 32].")
    ] = None,
    sentences_per_request: Annotated[
        list[int] | None, typer.Option(help="Sentences in each /classify request, repeatable [default: 1 16].")
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON results file (folders are created).")] = Path(
        "reports/bench/service.json"
    ),
    model: Annotated[
        Path | None,
        typer.Option(help="Exported model folder for the baseline (default: framing-classifier:latest's folder)."),
    ] = None,
    seeds: Annotated[Path | None, typer.Option(help="Seed data folder (default: the repository's seeds/).")] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Timeout of every HTTP call, seconds.")] = 120.0,
    startup_timeout: Annotated[float, typer.Option(min=1.0, help="Longest wait for GET /readyz, seconds.")] = 180.0,
    warmup: Annotated[int, typer.Option(min=0, help="Unmeasured warm-up calls (server and baseline).")] = 4,
    baseline: Annotated[bool, typer.Option(help="Also run the in-process transformers pipeline baseline.")] = True,
) -> None:
    """Benchmark POST /classify of the real BentoML server, plus an in-process pipeline baseline."""
    conc = concurrency or [1, 8, 32]
    spr = sentences_per_request or [1, 16]
    if min(conc) < 1 or min(spr) < 1:
        fail("--concurrency and --sentences-per-request must be >= 1")
    from serving.schemas import MAX_SENTENCES

    if max(spr) > MAX_SENTENCES:
        fail(f"--sentences-per-request is above the service limit of {MAX_SENTENCES} (FRAMING_MAX_SENTENCES)")
    out = out if out.is_absolute() else Path.cwd() / out
    command = [sys.executable, "-m", "eval.bench.service", *sys.argv[1:]]

    stored, tag = _check_store()
    import httpx

    model_dir = model or stored
    sentences = seed_items(seeds, model_context(model_dir))
    machine = machine_info()
    started = started_at()
    err_console.print(
        f"model {tag}; {len(sentences)} seed sentences; {requests} requests per scenario; "
        f"cpus={machine['cpu_count']} torch_threads={machine['torch_threads']}",
        highlight=False,
    )

    service_rows: list[Row] = []
    server_info: dict[str, Any] = {}
    log_dir = Path(tempfile.mkdtemp(prefix="framing-bench-"))
    server = Server(log_dir, startup_timeout)
    server_info = {"url": server.base, "command": server.cmd, "cwd": str(REPO), "logs": str(log_dir)}
    try:
        err_console.print(f"starting: {' '.join(server.cmd[1:])}", highlight=False)
        try:
            server.start()
        except RuntimeError as exc:
            fail(str(exc), code=1)
        server_info["startup_s"] = server.startup_s
        server_info["idle_rss_mb"] = round(tree_rss_bytes(server.pid) / 2**20, 1)
        server_info["backend"] = httpx.get(server.base + "/info", timeout=timeout).json().get("backend")
        err_console.print(
            f"server ready in {server.startup_s} s on {server.base}, backend {server_info['backend']}", highlight=False
        )
        warm_up(server, sentences, warmup, timeout)
        for c in conc:
            for k in spr:
                err_console.print(f"  concurrency={c} sentences/request={k} requests={requests} ...", highlight=False)
                row = run_scenario(server, sentences, c, k, requests, timeout)
                service_rows.append(row)
                if row.errors:
                    err_console.print(f"  [red]{row.errors} errors[/] {row.error_kinds}: {row.error_sample}")
    finally:
        server.stop()
        server_info["stopped"] = True

    baseline_rows: list[Row] = []
    baseline_info: dict[str, Any] = {"note": BASELINE_NOTE}
    if baseline:
        err_console.print(f"baseline: transformers pipeline on {model_dir}", highlight=False)
        pipe, clf = build_baseline(model_dir)
        weight_diff = check_same_weights(
            pipe, clf, [pipe_input(x)["text"] if isinstance(x, dict) else x for x in sentences[:8]]
        )
        if weight_diff > 1e-3:
            fail(f"the baseline model does not reproduce the service model's logits (max diff {weight_diff:.2e})")
        total = requests * max(spr)
        pipe_labels: dict[str, str] = {}
        for bs in (1, 16):
            row, batches, labels = run_baseline(pipe, sentences, bs, total, clf.max_length, warmup)
            baseline_rows.append(row)
            pipe_labels.update(zip((json.dumps(s) for b in batches for s in b), labels, strict=True))
        # Informational only (see BASELINE_NOTE): how often the CLS-pooled pipeline agrees
        # with the service's mean-pooled frame label on the same sentences.
        distinct = [json.loads(k) for k in pipe_labels]
        texts = [x["text"] if isinstance(x, dict) else x for x in distinct]
        contexts = [x["context"] if isinstance(x, dict) else "" for x in distinct]
        ours = [p.frame for p in clf.predict(texts, contexts=contexts)]
        agree = sum(a == pipe_labels[json.dumps(s)] for s, a in zip(distinct, ours, strict=True))
        baseline_info.update(
            {
                "model_dir": str(model_dir),
                "total_sentences": total,
                "max_logit_diff_mean_pooled_vs_service_model": weight_diff,
                "frame_label_agreement_with_service_model": round(agree / len(distinct), 3),
                "agreement_sentences": len(distinct),
            }
        )

    print_table(service_rows + baseline_rows, title=f"POST /classify on {server.base} - model {tag}")
    if baseline:
        console.print(
            f"* baseline RSS is the benchmark process itself. Baseline: {BASELINE_NOTE}. "
            f"Frame-label agreement with the service model: "
            f"{baseline_info['frame_label_agreement_with_service_model']:.1%} "
            f"of {baseline_info['agreement_sentences']} sentences (same weights checked: mean-pooled logits "
            f"match the service model within {baseline_info['max_logit_diff_mean_pooled_vs_service_model']:.1e}).",
            highlight=False,
        )
    console.print(
        f"machine: {machine['platform']}, cpu_count={machine['cpu_count']} (affinity {machine['cpu_affinity']}), "
        f"torch_threads={machine['torch_threads']}, load average at start {machine['load_average_at_start']}",
        highlight=False,
    )
    console.print(
        f"server: backend {server_info.get('backend')}, startup {server_info.get('startup_s')} s, "
        f"idle RSS {server_info.get('idle_rss_mb')} MB, "
        f"logs in {server_info['logs']}",
        highlight=False,
    )
    console.print(f"command: {' '.join(command)}", highlight=False)

    result = {
        "started": started,
        "command": command,
        "model": tag,
        "machine": machine,
        "settings": {
            "requests": requests,
            "concurrency": conc,
            "sentences_per_request": spr,
            "timeout_s": timeout,
            "warmup": warmup,
            "seed_sentences": len(sentences),
        },
        "server": server_info,
        "service": [asdict(r) for r in service_rows],
        "baseline": {**baseline_info, "rows": [asdict(r) for r in baseline_rows]},
    }
    write_result(out, result)
    console.print(f"wrote {out}", highlight=False)
    if any(r.errors for r in service_rows):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
