"""The run: options checked, inputs resolved, pass 1 (validate), pass 2 (score, checkpoint), outputs."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from serving.batch.atomic import write_text_atomic
from serving.batch.checkpoint import Checkpoint, check_out_dir, run_fingerprint
from serving.batch.chunk import ChunkResult, score_chunk
from serving.batch.engines import Scorer, load_classifier, local_predict, remote_predict, remote_scorer, resolve_model
from serving.batch.inputs import describe_inputs, load_sidecar, resolve_inputs
from serving.batch.outputs import assemble_outputs, extraction_row, io_message, write_extracted
from serving.batch.readers import chunks, resolve_columns, scan
from serving.batch.records import (
    DOCUMENTS,
    ENGINES,
    FORMATS,
    HTML,
    ArticleRecord,
    Reject,
    RunError,
    RunResult,
    ScoreOptions,
    StrictRejectError,
    UsageError,
)
from serving.html import extractor_version

ChunkResults = Iterable[tuple[int, ChunkResult, int]]  # (chunk index, its result, articles in it)


def chunk_results(
    pending: Iterable[tuple[int, list[ArticleRecord]]],
    scorer: Scorer,
    options: ScoreOptions,
    log: Callable[[str], None],
) -> tuple[ChunkResults, float]:
    """The chosen engine's results for the chunks still to score, and the seconds spent loading a local model."""
    if options.engine == "ray":
        from serving.batch.ray_engine import ray_engine

        return ray_engine(pending, scorer, options, log=log), 0.0
    if scorer.remote is not None:
        predict, settings, load_s = (
            remote_predict(scorer.remote, options.batch_size),
            scorer.remote.context_settings,
            0.0,
        )
    else:
        t_load = time.perf_counter()
        clf = load_classifier(scorer.model_dir, scorer.backend)  # type: ignore[arg-type]
        load_s = time.perf_counter() - t_load
        predict, settings = local_predict(clf, options.batch_size), clf.context_settings
    return ((k, score_chunk(predict, scorer.schema, arts, settings), len(arts)) for k, arts in pending), load_s


def _progress(total: int, initial: int, enabled: bool | None) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="article",
        desc="scoring",
        file=sys.stderr,
        disable=None if enabled is None else not enabled,
        dynamic_ncols=True,
        smoothing=0.1,
    )


def run(options: ScoreOptions, *, log: Callable[[str], None] = lambda _m: None) -> RunResult:
    """Score ``options.inputs`` into ``options.out`` (see the module docstring)."""
    t_start = time.perf_counter()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if options.fmt not in FORMATS:
        raise UsageError(f"--format must be one of {list(FORMATS)}, got {options.fmt!r}")
    if options.engine not in ENGINES:
        raise UsageError(f"--engine must be one of {list(ENGINES)}, got {options.engine!r}")
    if options.url and options.engine != "local":
        raise UsageError("--url sends batches to a running service; it cannot be combined with --engine ray")
    if options.url and options.model:
        raise UsageError("--url uses the service's model; drop --model (or drop --url to load the model here)")
    if (options.batch_size is not None and options.batch_size < 1) or options.chunk_size < 1:
        raise UsageError("--batch-size and --chunk-size must be at least 1")
    if options.replicas is not None and options.replicas < 1:
        raise UsageError("--replicas must be at least 1")
    from model.timeline import PERIODS

    if options.period not in PERIODS:
        raise UsageError(f"--period must be one of {list(PERIODS)}, got {options.period!r}")
    if options.max_html_bytes < 1:
        raise UsageError(f"--max-html-bytes must be at least 1, got {options.max_html_bytes}")

    files = resolve_inputs(options.inputs)
    table_columns = resolve_columns(files, options.columns, options.source)
    sidecars = {root: load_sidecar(root) for root in {f.root for f in files if f.kind in DOCUMENTS and f.root}}
    inputs = describe_inputs(files)
    has_html = any(f.kind == HTML for f in files) or any(tc is not None and tc.html for tc in table_columns.values())
    html = {"extractor": extractor_version(), "max_bytes": options.max_html_bytes} if has_html else None

    scorer = remote_scorer(options, log) if options.url else resolve_model(options.model)

    fingerprint = run_fingerprint(options, inputs, scorer, html)
    finished = check_out_dir(options, fingerprint)
    if finished is not None:
        log(f"{options.out} already holds the finished outputs of this exact run; nothing to do (--restart redoes it)")
        return finished

    # Pass 1: validate everything, count articles, collect rejects (nothing scored yet).
    def read() -> Iterable[ArticleRecord | Reject]:
        return scan(files, table_columns, options.source, sidecars, options.max_html_bytes)

    t0 = time.perf_counter()
    rejects: list[Reject] = []
    per_file: Counter[str] = Counter()
    sidecar_misses: Counter[str] = Counter()
    extractions: list[dict[str, Any]] = []  # extracted.csv: one row per article read from HTML
    n_articles = 0
    for rec in read():
        if isinstance(rec, Reject):
            if options.strict:
                raise StrictRejectError(
                    f"--strict: {rec.where()}{f' (id {rec.id!r})' if rec.id else ''}: {rec.reason}. "
                    "Nothing was written; fix the record or drop --strict to skip rejects."
                )
            rejects.append(rec)
        else:
            n_articles += 1
            per_file[rec.file] += 1
            if rec.html is not None:
                extractions.append(extraction_row(rec))
    for f in files:
        sc = sidecars.get(f.root) if f.kind in DOCUMENTS and f.root else None
        if sc is not None and options.source is None and sc.lookup(f.display) is None:
            sidecar_misses[str(sc.path)] += 1
    read_s = time.perf_counter() - t0
    warnings = [
        f"{n} .txt/.html files have no row in {path}; their source is their folder's name"
        for path, n in sidecar_misses.items()
    ]
    for w in warnings:
        log(f"warning: {w}")

    n_chunks = -(-n_articles // options.chunk_size)
    ckpt = Checkpoint(options.out)
    options.out.mkdir(parents=True, exist_ok=True)
    ckpt.start(fingerprint)
    done = {k for k in ckpt.done() if k < n_chunks}
    resumed_articles = sum(min(options.chunk_size, n_articles - k * options.chunk_size) for k in done)
    if done:
        log(f"resuming: {len(done)} of {n_chunks} chunks ({resumed_articles} articles) already scored in {ckpt.dir}")

    # Pass 2: score the chunks the checkpoint does not hold yet.
    t0 = time.perf_counter()
    load_s = 0.0
    scored_articles = scored_sentences = 0
    # HTML articles' extracted text is written on the way (before their chunk is scored, so a
    # finished chunk always has its texts).
    records = write_extracted(read(), options.out)
    pending = ((k, arts) for k, arts in chunks(records, options.chunk_size) if k not in done)
    bar = _progress(n_articles, resumed_articles, options.progress)
    try:
        if len(done) < n_chunks:
            results, load_s = chunk_results(pending, scorer, options, log)
            for k, result, n in results:
                ckpt.save(k, result)
                scored_articles += n
                scored_sentences += result.sentences.num_rows
                bar.update(n)
                bar.set_postfix_str(f"{scored_sentences / max(bar.format_dict['elapsed'], 1e-9):.1f} sentences/s")
        if any(not (options.out / e["text_file"]).is_file() for e in extractions):
            # Every chunk was already scored but an extracted text is gone (deleted by hand): write them again.
            for _ in write_extracted(read(), options.out):
                pass
    except OSError as exc:
        raise RunError(io_message(exc, options.out)) from None
    finally:
        bar.close()
        if scorer.remote is not None:
            scorer.remote.close()
    score_s = time.perf_counter() - t0 - load_s

    # Assemble the final outputs from the checkpoint (atomically, manifest last).
    t0 = time.perf_counter()
    try:
        result = assemble_outputs(
            options, scorer, ckpt, n_chunks, rejects, inputs, per_file, fingerprint, warnings, extractions
        )
    except OSError as exc:
        raise RunError(io_message(exc, options.out)) from None
    write_s = time.perf_counter() - t0
    result.manifest["run"] = {
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "resumed_chunks": len(done),
        "resumed_articles": resumed_articles,
        "scored_articles": scored_articles,
        "scored_sentences": scored_sentences,
        "timings_s": {
            "read": round(read_s, 3),
            "load_model": round(load_s, 3),
            "score": round(score_s, 3),
            "write": round(write_s, 3),
            "total": round(time.perf_counter() - t_start, 3),
        },
        "articles_per_s": round(scored_articles / score_s, 2) if score_s > 0 and scored_articles else None,
        "sentences_per_s": round(scored_sentences / score_s, 2) if score_s > 0 and scored_sentences else None,
    }
    write_text_atomic(options.out / "manifest.json", json.dumps(result.manifest, indent=2, ensure_ascii=False))
    if not options.keep_checkpoint:
        ckpt.remove()
    return result
