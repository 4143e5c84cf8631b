"""Batch scoring of a corpus without a server: the engine behind ``framing score``.

What happens, in order, and the module that does it:

1. **Inputs** (``inputs``) are resolved: folders of ``.txt`` and ``.html`` files (one article
   per file), ``.jsonl``, ``.csv`` and ``.parquet`` tables, each optionally gzip-compressed,
   and the ``sources.csv`` sidecar of a folder. Column names are checked up front (``readers``:
   a missing column is a usage error naming the columns that exist).
2. **Pass 1** (``readers.scan``) reads every record and validates it. A malformed record
   (missing or empty text, wrong type, undecodable bytes, bad JSON, duplicate id, ...)
   becomes a *reject* with its file, line or row and the reason, and the run goes on: one
   bad record never costs the good ones. ``--strict`` stops at the first reject instead.
   HTML (a page file or an ``html`` column) becomes an article here: ``serving.html`` extracts its
   main text and metadata with trafilatura; a page with no article text is a reject.
3. **Pass 2** reads the inputs again and scores the valid articles in fixed chunks (the
   same articles in the same chunks on every run) with one of the ``engines``: ``local``
   (the model in this process), ``remote`` (``--url``: a running service's
   ``POST /classify``) or ``ray`` (``ray_engine``: an actor pool of model replicas). All
   three score a chunk with ``chunk.score_chunk``. Each finished chunk is written to
   ``OUT/.checkpoint/`` atomically (``checkpoint``, ``atomic``), so an interrupted run
   resumes where it stopped and gives exactly the outputs of an uninterrupted run. A
   fingerprint of inputs, model and options guards the checkpoint against mixing runs.
4. **Outputs** (``outputs``) are assembled from the chunks at the end, each written
   atomically: ``sentences.parquet`` (or ``.csv``), ``articles.csv``, ``sources.csv``
   (profiles over *all* sentences of each source, with the service's function and
   arguments), ``timeline.csv`` (the same profiles per source and ``--period``,
   ``model.timeline``), ``extracted.csv`` for HTML inputs, ``rejects.jsonl`` and
   ``manifest.json`` last. The text extracted from each HTML page is written to
   ``OUT/extracted/`` during pass 2, before its chunk is scored (sentence offsets index it).
5. **Summary** (``summary``): the one screen ``framing score`` prints.

``runner.run`` ties the steps together; ``records`` holds what flows between them (options,
records, rejects, errors, exit codes) and imports nothing from the package.

Scoring a chunk reuses the service's pieces (``serving.scoring.segment_articles``,
``FramingClassifier.predict_proba``, ``serving.scoring.profile_sources``), so sentences,
labels and source profiles equal what ``POST /score`` returns for the same articles.

May import: ``model``, ``serving.scoring``, ``serving.html``, ``serving.remote``. Never ``serving.service``,
``serving.cli``, ``training`` or ``eval``. Within the package, imports go one way:
records -> atomic, inputs -> readers, chunk -> engines -> ray_engine, checkpoint -> outputs -> runner
(``tests/test_layout.py`` checks there is no cycle).
"""

from serving.batch.atomic import atomic_path
from serving.batch.engines import resolve_model
from serving.batch.records import (
    CHECKPOINT_DIR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTS,
    EXIT_USAGE,
    BatchError,
    Columns,
    RunResult,
    ScoreOptions,
    UsageError,
)
from serving.batch.runner import run
from serving.batch.summary import print_summary

__all__ = [
    "CHECKPOINT_DIR",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTS",
    "EXIT_USAGE",
    "BatchError",
    "Columns",
    "RunResult",
    "ScoreOptions",
    "UsageError",
    "atomic_path",
    "print_summary",
    "resolve_model",
    "run",
]
