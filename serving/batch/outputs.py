"""Step 4, outputs: atomic writes, and the final files assembled from the checkpoint (manifest last).

Also the text extracted from HTML pages (``OUT/extracted/<id>.txt``, indexed by ``extracted.csv``):
the sentence offsets of such an article refer to that text, so it is an output like the others.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from serving.batch.atomic import atomic_path, write_csv_atomic, write_text_atomic
from serving.batch.checkpoint import Checkpoint
from serving.batch.chunk import article_schema, sentence_schema
from serving.batch.engines import Scorer
from serving.batch.records import (
    CHECKPOINT_DIR,
    EXTRACTED_DIR,
    MANIFEST_VERSION,
    SENTENCES,
    ArticleRecord,
    Reject,
    RunError,
    RunResult,
    ScoreOptions,
)
from serving.scoring import N_BOOT, profile_sources

EXTRACTED_COLUMNS = (
    "article_id",
    "source",
    "file",
    "record",
    "text_file",
    "chars",
    "title",
    "published",
    "url",
    "author",
    "sitename",
    "encoding",
    "from_page",
)
_UNSAFE_NAME_RE = re.compile(r"[^A-Za-z0-9._-]+")


# ------------------------------------------------------------ extracted text
def extracted_name(article_id: str) -> str:
    """The file name of an article's extracted text: its id, made safe for any file system.

    Why a hash when characters are replaced: ids like ``a/b`` and ``a_b`` (or ``pages.jsonl:3``)
    must not land in the same file; an id that is already safe keeps its plain name.
    """
    safe = _UNSAFE_NAME_RE.sub("_", article_id).strip("._")[:120] or "article"
    if safe != article_id:
        safe += "-" + hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:10]
    return f"{safe}.txt"


def extraction_row(rec: ArticleRecord) -> dict[str, Any]:
    """One row of extracted.csv for an article read from HTML (``rec.html`` set)."""
    info = rec.html or {}
    return {
        "article_id": rec.article_id,
        "source": rec.source,
        "file": rec.file,
        "record": rec.record,
        "text_file": f"{EXTRACTED_DIR}/{extracted_name(rec.article_id)}",
        "chars": len(rec.text),
        "title": rec.title,
        "published": rec.published,
        "url": rec.url,
        "author": info.get("author"),
        "sitename": info.get("sitename"),
        "encoding": info.get("encoding"),
        "from_page": info.get("from_page"),
    }


def write_extracted(records: Iterable[ArticleRecord | Reject], out: Path) -> Iterator[ArticleRecord | Reject]:
    """Pass ``records`` through, writing each HTML article's text to ``OUT/extracted/`` (atomically) on the way.

    Why in pass 2: ``--strict`` must write nothing when pass 1 finds a reject. Why byte-exact
    (no newline translation): sentence offsets index this text. A file that already holds the
    same text (a resumed run) is left alone.
    """
    folder = out / EXTRACTED_DIR
    if folder.is_dir():
        for stale in folder.glob(".*.tmp-*"):  # a killed run's half-written file: never renamed, never used
            stale.unlink(missing_ok=True)
    for rec in records:
        if isinstance(rec, ArticleRecord) and rec.html is not None:
            target = folder / extracted_name(rec.article_id)
            data = rec.text.encode("utf-8")
            if not (target.is_file() and target.read_bytes() == data):
                folder.mkdir(parents=True, exist_ok=True)
                with atomic_path(target) as tmp:
                    tmp.write_bytes(data)
        yield rec


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
    extractions: list[dict[str, Any]] | None = None,
) -> RunResult:
    """Write sentences, sources, timeline, articles, extracted.csv and rejects from the checkpoint; the manifest dict.

    ``extractions``: the extracted.csv rows of the articles read from HTML (none: no such file).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out, schema = options.out, scorer.schema
    sent_schema = sentence_schema(schema)
    fcols = [f"frame_p.{f}" for f in schema.frame_names]
    acols = [f"attribution_p.{a}" for a in schema.attribution_names]
    sources: list[str] = []
    published: list[str | None] = []
    article_ids: list[str] = []
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
                published.extend(table.column("published").to_pylist())
                article_ids.extend(table.column("article_id").to_pylist())
                frame_p.append(np.column_stack([table.column(c).to_numpy() for c in fcols]))
                attr_p.append(np.column_stack([table.column(c).to_numpy() for c in acols]))
                article_tables.append(ckpt.load(k, "articles"))
        finally:
            writer.close()
    fp = np.concatenate(frame_p) if frame_p else np.zeros((0, len(fcols)), dtype=np.float32)
    ap = np.concatenate(attr_p) if attr_p else np.zeros((0, len(acols)), dtype=np.float32)
    from model.profiles import profiles_to_rows
    from model.timeline import source_timeline, timeline_columns, timeline_to_rows

    profiles = profile_sources(sources, fp, ap, schema)
    write_csv_atomic(out / "sources.csv", profiles_to_rows(profiles), None if profiles else ["source", "n_sentences"])
    timeline = source_timeline(sources, published, article_ids, fp, ap, schema, period=options.period, n_boot=N_BOOT)
    write_csv_atomic(out / "timeline.csv", timeline_to_rows(timeline), timeline_columns(schema))
    if timeline.note():
        warnings = [*warnings, timeline.note() or ""]
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
        "timeline": "timeline.csv",
        "rejects": "rejects.jsonl",
    }
    if extractions:
        write_csv_atomic(out / "extracted.csv", extractions, list(EXTRACTED_COLUMNS))
        files["extracted"] = "extracted.csv"
        files["extracted_texts"] = f"{EXTRACTED_DIR}/"
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
            "backend": scorer.backend,
            "frames": schema.frame_names,
            "attributions": schema.attribution_names,
        },
        "options": fingerprint["options"] | {"engine": options.engine, "format": options.fmt, "period": options.period},
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
            "html_articles": len(extractions or []),
            "chunks": n_chunks,
            "timeline": timeline.summary(),
        },
        "warnings": warnings,
        "outputs": files,
        "fingerprint": fingerprint,
    }
    return RunResult(out, files, manifest, rejects, profiles)
