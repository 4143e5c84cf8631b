"""Step 4, outputs: atomic writes, and the final files assembled from the checkpoint (manifest last)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from serving.batch.atomic import atomic_path, write_csv_atomic, write_text_atomic
from serving.batch.checkpoint import Checkpoint
from serving.batch.chunk import article_schema, sentence_schema
from serving.batch.engines import Scorer
from serving.batch.records import CHECKPOINT_DIR, MANIFEST_VERSION, SENTENCES, Reject, RunError, RunResult, ScoreOptions
from serving.scoring import profile_sources


def io_message(exc: OSError, out: Path) -> str:
    return (
        f"I/O error: {exc}. Finished chunks are kept in {out / CHECKPOINT_DIR}; free disk space or fix permissions, "
        "then run the same command again to resume"
    )


def assemble_outputs(
    options: ScoreOptions,
    scorer: Scorer,
    ckpt: Checkpoint,
    n_chunks: int,
    rejects: list[Reject],
    inputs: list[dict[str, Any]],
    per_file: Counter[str],
    fingerprint: dict[str, Any],
    warnings: list[str],
) -> RunResult:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out, schema = options.out, scorer.schema
    sent_schema = sentence_schema(schema)
    fcols = [f"frame_p.{f}" for f in schema.frame_names]
    acols = [f"attribution_p.{a}" for a in schema.attribution_names]
    sources: list[str] = []
    frame_p: list[np.ndarray] = []
    attr_p: list[np.ndarray] = []
    article_tables = []
    sentences_name = f"sentences.{options.fmt}"
    with atomic_path(out / sentences_name) as tmp:
        writer: Any = (
            pq.ParquetWriter(tmp, sent_schema) if options.fmt == "parquet" else pacsv.CSVWriter(tmp, sent_schema)
        )
        try:
            for k in range(n_chunks):
                table = ckpt.load(k, SENTENCES)
                if table.schema != sent_schema:
                    raise RunError(
                        f"checkpoint part {ckpt.part(k, SENTENCES)} does not match this model's schema; "
                        "rerun with --restart"
                    )
                writer.write_table(table)
                sources.extend(table.column("source").to_pylist())
                frame_p.append(np.column_stack([table.column(c).to_numpy() for c in fcols]))
                attr_p.append(np.column_stack([table.column(c).to_numpy() for c in acols]))
                article_tables.append(ckpt.load(k, "articles"))
        finally:
            writer.close()
    fp = np.concatenate(frame_p) if frame_p else np.zeros((0, len(fcols)), dtype=np.float32)
    ap = np.concatenate(attr_p) if attr_p else np.zeros((0, len(acols)), dtype=np.float32)
    from model.profiles import profiles_to_rows

    profiles = profile_sources(sources, fp, ap, schema)
    write_csv_atomic(out / "sources.csv", profiles_to_rows(profiles), None if profiles else ["source", "n_sentences"])
    articles = pa.concat_tables(article_tables) if article_tables else article_schema(schema).empty_table()
    write_csv_atomic(out / "articles.csv", articles.to_pylist(), articles.schema.names)
    write_text_atomic(
        out / "rejects.jsonl", "".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in rejects)
    )
    reject_reasons = Counter(r.reason.split(":")[0] for r in rejects)
    per_input_rejects = Counter(r.file for r in rejects)
    for entry in inputs:
        entry["articles"] = per_file[entry["display"]]
        entry["rejects"] = per_input_rejects[entry["display"]]
    files = {
        "sentences": sentences_name,
        "articles": "articles.csv",
        "sources": "sources.csv",
        "rejects": "rejects.jsonl",
    }
    non_english = int(pa.compute.sum(articles.column("non_english")).as_py() or 0) if articles.num_rows else 0
    empty = (
        int(pa.compute.sum(pa.compute.equal(articles.column("n_sentences"), 0)).as_py() or 0)
        if articles.num_rows
        else 0
    )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "tool": "framing score",
        "command": options.command,
        "format": options.fmt,
        "engine": "remote" if scorer.remote is not None else options.engine,
        "model": {
            "tag": scorer.tag,
            "checksum": scorer.checksum,
            "path": str(scorer.model_dir) if scorer.model_dir else None,
            "url": scorer.remote.url if scorer.remote is not None else None,
            "frames": schema.frame_names,
            "attributions": schema.attribution_names,
        },
        "options": fingerprint["options"] | {"engine": options.engine, "format": options.fmt},
        "inputs": inputs,
        "counts": {
            "input_files": len(inputs),
            "articles": int(articles.num_rows),
            "sentences": len(sources),
            "sources": len(profiles),
            "rejects": len(rejects),
            "rejects_by_reason": dict(sorted(reject_reasons.items())),
            "rejects_by_file": dict(sorted(per_input_rejects.items())),
            "non_english_articles": non_english,
            "articles_without_sentences": empty,
            "chunks": n_chunks,
        },
        "warnings": warnings,
        "outputs": files,
        "fingerprint": fingerprint,
    }
    return RunResult(out, files, manifest, rejects, profiles)
