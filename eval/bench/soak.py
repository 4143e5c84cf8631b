"""Soak test of the real service: many clients for a long time, good and bad requests mixed.

What it answers: does the server keep its contract (no response >= 500) and its memory
(RSS growth) over a sustained, realistic load? One run:

1. starts ``bentoml serve`` on 127.0.0.1 (``serving.server_process.Server``, a free port;
   loopback only) and waits for ``/readyz``;
2. runs ``--clients`` threads for ``--duration`` seconds, each sending a fixed, seeded mix:
   ``/classify`` with 1-8 seed sentences (some with context), ``/score`` with one or two
   seed articles, and bad requests (malformed JSON, a wrong content type, control
   characters, an empty body) that must get a 4xx;
3. samples the server's RSS (the server process and all its workers) every second;
4. prints one line a minute (requests, statuses, p50/p99 of good requests, RSS) and, at
   the end, the RSS growth from the end of the first minute (the warm-up: caches and
   allocator pools fill) to the end; writes everything as JSON (``--out``).

It exits 1 if any response was >= 500 or the RSS grew by ``--max-growth`` or more.

    BENTOML_HOME=... python -m eval.bench.soak --duration 600 --out reports/bench/soak.json
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from eval.bench.harness import (
    console,
    err_console,
    fail,
    machine_info,
    percentiles,
    started_at,
    tree_rss_bytes,
    write_result,
)

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])
MIX = (("classify", 0.6), ("score", 0.25), ("bad", 0.15))


def _inputs() -> tuple[list[str], list[str]]:
    """(seed sentences, seed article texts cut to a few paragraphs): real text, sent as is."""
    from training.dataset import load_corpus

    corpus = load_corpus(with_synthetic=False)
    sentences = [e.clean for e in corpus.seeds if e.clean.strip()]
    articles = ["\n".join(text.split("\n")[:6])[:4000] for text in corpus.texts.values() if text.strip()]
    if not sentences or not articles:
        fail("the seed corpus has no sentences or articles to send")
    return sentences, articles


def _bad_request(rng: random.Random) -> tuple[str, dict[str, str], bytes]:
    kind = rng.randrange(4)
    if kind == 0:
        return "/classify", {"content-type": "application/json"}, b'{"sentences": ["unterminated'
    if kind == 1:
        return "/score", {"content-type": "multipart/form-data"}, b"x=1"
    if kind == 2:
        return "/classify", {"content-type": "application/json"}, b'{"sentences": ["bad \\u0000 text"]}'
    return "/score", {"content-type": "application/json"}, b""


class Load:
    """The clients: each records (finished at, kind, status, latency) into one shared list."""

    def __init__(self, base: str, sentences: list[str], articles: list[str], clients: int, seed: int):
        self.base, self.sentences, self.articles = base, sentences, articles
        self.clients, self.seed = clients, seed
        self.records: list[tuple[float, str, int, float]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _request(self, rng: random.Random) -> tuple[str, str, dict[str, str], Any]:
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        if kind == "classify":
            picked = rng.sample(self.sentences, rng.randint(1, 8))
            items = [{"text": s, "context": rng.choice(self.sentences)} if rng.random() < 0.3 else s for s in picked]
            return kind, "/classify", {}, {"sentences": items}
        if kind == "score":
            arts = [
                {"source": f"outlet-{rng.randrange(5)}", "text": rng.choice(self.articles), "published": "2023-09-20"}
                for _ in range(rng.randint(1, 2))
            ]
            return kind, "/score", {}, {"articles": arts}
        path, headers, body = _bad_request(rng)
        return kind, path, headers, body

    def _client(self, i: int) -> None:
        import httpx

        rng = random.Random(self.seed * 1000 + i)
        with httpx.Client(base_url=self.base, timeout=httpx.Timeout(120.0)) as client:
            while not self.stop.is_set():
                kind, path, headers, payload = self._request(rng)
                t0 = time.perf_counter()
                try:
                    if isinstance(payload, bytes):
                        r = client.post(path, content=payload, headers=headers)
                    else:
                        r = client.post(path, json=payload)
                    status = r.status_code
                except httpx.HTTPError:
                    status = -1  # transport failure: counted as an error
                with self.lock:
                    self.records.append((time.monotonic(), kind, status, time.perf_counter() - t0))

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        return threads


def _minute_row(minute: int, records: list[tuple[float, str, int, float]], rss_mb: float) -> dict[str, Any]:
    statuses = Counter(status for _, _, status, _ in records)
    good = [lat for _, kind, status, lat in records if kind != "bad" and status == 200]
    return {
        "minute": minute,
        "requests": len(records),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "bad_requests_answered_4xx": sum(1 for _, kind, s, _ in records if kind == "bad" and 400 <= s < 500),
        "bad_requests": sum(1 for _, kind, _, _ in records if kind == "bad"),
        **percentiles(good, digits=1),
        "server_rss_mb": rss_mb,
    }


@app.command()
def main(
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 600.0,
    clients: Annotated[int, typer.Option(help="Concurrent clients.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed of the request mix.")] = 0,
    max_growth: Annotated[float, typer.Option(help="Fail when RSS grows by this fraction or more.")] = 0.10,
    startup_timeout: Annotated[float, typer.Option(help="Seconds to wait for the server.")] = 300.0,
    out: Annotated[Path, typer.Option(help="JSON results file.")] = Path("reports/bench/soak.json"),
) -> None:
    """Run the soak and print a line a minute; exit 1 on any 5xx or RSS growth over --max-growth."""
    from serving.server_process import Server

    if duration < 120 or clients < 1:
        fail("--duration must be at least 120 s (the first minute is the warm-up baseline) and --clients at least 1")
    sentences, articles = _inputs()
    machine, started = machine_info(), started_at()
    with tempfile.TemporaryDirectory() as logs, Server(Path(logs), startup_timeout_s=startup_timeout) as server:
        err_console.print(
            f"server ready on {server.base} in {server.startup_s} s; {clients} clients for {duration:.0f} s"
        )
        load = Load(server.base, sentences, articles, clients, seed)
        t0 = time.monotonic()
        threads = load.start()
        rows: list[dict[str, Any]] = []
        rss_samples: list[tuple[float, float]] = []
        next_minute = t0 + 60
        end = t0 + duration
        while True:
            now = time.monotonic()
            rss_samples.append((round(now - t0, 1), round(tree_rss_bytes(server.pid) / 2**20, 1)))
            if now >= next_minute or now >= end:
                with load.lock:
                    window = [r for r in load.records if next_minute - 60 <= r[0] < min(next_minute, now)]
                rows.append(_minute_row(len(rows) + 1, window, rss_samples[-1][1]))
                r = rows[-1]
                err_console.print(
                    f"min {r['minute']:>3}: {r['requests']:>6} requests  statuses {r['statuses']}  "
                    f"p50 {r['p50_ms']} ms  p99 {r['p99_ms']} ms  RSS {r['server_rss_mb']} MB",
                    highlight=False,
                )
                next_minute += 60
            if now >= end:
                break
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        load.stop.set()
        for t in threads:
            t.join(timeout=150)
        rss_end = round(tree_rss_bytes(server.pid) / 2**20, 1)

    records = load.records
    statuses = Counter(status for _, _, status, _ in records)
    server_errors = sum(n for s, n in statuses.items() if s >= 500 or s < 0)
    rss_warm = rows[0]["server_rss_mb"]
    growth = (rss_end - rss_warm) / rss_warm if rss_warm else 0.0
    summary = {
        "requests": len(records),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "responses_5xx_or_failed": server_errors,
        "bad_requests": sum(1 for _, kind, _, _ in records if kind == "bad"),
        "bad_requests_answered_4xx": sum(1 for _, kind, s, _ in records if kind == "bad" and 400 <= s < 500),
        "good_latency": percentiles([lat for _, k, s, lat in records if k != "bad" and s == 200], digits=1),
        "rss_after_first_minute_mb": rss_warm,
        "rss_end_mb": rss_end,
        "rss_peak_mb": max(mb for _, mb in rss_samples),
        "rss_growth": round(growth, 4),
    }
    table = Table(title=f"soak: {clients} clients, {duration:.0f} s", title_justify="left")
    for col in ("minute", "requests", "statuses", "p50 ms", "p99 ms", "server RSS MB"):
        table.add_column(col, justify="left" if col == "statuses" else "right")
    for r in rows:
        table.add_row(
            str(r["minute"]), str(r["requests"]), str(r["statuses"]), str(r["p50_ms"]), str(r["p99_ms"]),
            str(r["server_rss_mb"]),
        )  # fmt: skip
    console.print(table)
    console.print(
        f"{summary['requests']} requests, {server_errors} responses >= 500 or failed, "
        f"{summary['bad_requests_answered_4xx']}/{summary['bad_requests']} bad requests answered 4xx; "
        f"RSS {rss_warm} MB after the first minute -> {rss_end} MB at the end ({growth:+.1%})",
        highlight=False,
    )
    write_result(
        out,
        {
            "started": started,
            "machine": machine,
            "settings": {"duration_s": duration, "clients": clients, "seed": seed, "mix": dict(MIX)},
            "minutes": rows,
            "summary": summary,
            "rss_samples": rss_samples,
        },
    )
    console.print(f"wrote {out}", highlight=False)
    if server_errors or growth >= max_growth:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
