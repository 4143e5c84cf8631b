"""What every benchmark shares: machine facts, timing statistics, memory sampling, the
``transformers.pipeline`` baseline on the model's own weights, the seed sentences as inputs,
and the result file.

Why one harness: the three benchmarks compare against the same named baseline and report
the same machine facts, so their JSON files can be read side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

MODEL_TAG = "framing-classifier:latest"
RSS_SAMPLE_S = 0.1
BASELINE_NOTE = (
    "speed baseline only: transformers' BertForSequenceClassification classifies the pooler (CLS) output, "
    "the service mean-pools the encoder output, so the baseline's labels may differ from the service's; "
    "encoder and frame-head weights are the same"
)

console = Console(width=None if sys.stdout.isatty() else 160)  # a piped table should not wrap at 80
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def started_at() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_result(out: Path, payload: dict[str, Any]) -> None:
    """The JSON result file (folders created); numpy scalars become floats."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=float))


# --------------------------------------------------------------------- statistics
def percentiles(values_s: list[float], digits: int = 2) -> dict[str, float | None]:
    """p50/p95/p99 in milliseconds (None when there is nothing to measure)."""
    import numpy as np

    if not values_s:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    ms = np.asarray(values_s, dtype=float) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), digits),
        "p95_ms": round(float(p95), digits),
        "p99_ms": round(float(p99), digits),
    }


# ------------------------------------------------------------------------ memory
def tree_rss_bytes(pid: int) -> int:
    """RSS of ``pid`` plus all its descendants (shared pages are counted once per process)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class RssSampler:
    """Background thread: peak of ``tree_rss_bytes(pid)`` while the ``with`` block runs."""

    def __init__(self, pid: int, interval_s: float = RSS_SAMPLE_S):
        self.pid = pid
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss_bytes(self.pid))
            if self._stop.wait(self.interval_s):
                break

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.peak = max(self.peak, tree_rss_bytes(self.pid))

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)


# ------------------------------------------------------------------ the machine
def machine_info() -> dict[str, Any]:
    import bentoml
    import psutil
    import torch
    import transformers

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": affinity,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "memory_total_mb": round(psutil.virtual_memory().total / 2**20),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "bentoml": bentoml.__version__,
        },
    }


# ------------------------------------------------------------------ the baseline
def build_baseline(model_dir: Path) -> tuple[Any, Any]:
    """(text-classification pipeline on the same weights, the FramingClassifier)."""
    import copy

    import torch
    from transformers import BertForSequenceClassification, pipeline

    from model.classifier import FramingClassifier

    clf = FramingClassifier.load(model_dir)
    frames = clf.schema.frame_names
    config = copy.deepcopy(clf.model.encoder.config)
    config.num_labels = len(frames)
    config.id2label = dict(enumerate(frames))
    config.label2id = {name: i for i, name in enumerate(frames)}
    seq = BertForSequenceClassification(config)
    with torch.no_grad():
        seq.bert.load_state_dict(clf.model.encoder.state_dict())  # strict: every bert.* weight copied
        seq.classifier.weight.copy_(clf.model.frame_head.weight)
        seq.classifier.bias.copy_(clf.model.frame_head.bias)
    seq.eval()
    pipe = pipeline("text-classification", model=seq, tokenizer=clf.tokenizer, device=-1)
    return pipe, clf


def check_same_weights(pipe: Any, clf: Any, sentences: list[str]) -> float:
    """Max |logit difference| between the wrapped model, mean-pooled, and the service model.

    The pipeline itself classifies the CLS/pooler output (so its labels may differ), but
    its encoder and classifier must be the service's: mean-pooling the wrapped encoder's
    output through the wrapped classifier has to give the service's frame logits.
    """
    import torch

    seq = pipe.model
    enc = clf.tokenize(sentences)
    with torch.inference_mode():
        hidden = seq.bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        wrapped = seq.classifier((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
        ours, _ = clf.model(enc["input_ids"], enc["attention_mask"])
    return float((wrapped - ours).abs().max())


# ------------------------------------------------------------------------ inputs
def seed_items(seeds: Path | None, context: tuple[int, int] | None = None) -> list[Any]:
    """The seed sentences as /classify items: strings, or ``{text, context}`` for a context-reading model."""
    from model.schema import SchemaError
    from training.annotations import AnnotationError
    from training.dataset import SeedPaths, load_corpus

    try:
        corpus = load_corpus(SeedPaths(seeds) if seeds else None, with_synthetic=False)
    except (AnnotationError, SchemaError, OSError) as exc:
        fail(f"cannot read the seed sentences: {exc}")
    examples = [e for e in corpus.seeds if e.clean.strip()]
    if not examples:
        fail("the seed corpus has no sentences to send")
    if context is None:
        return [e.clean for e in examples]
    return [
        {"text": e.clean, "context": e.context} if e.context else e.clean
        for e in corpus.with_context(examples, *context)
    ]


def pipe_input(item: Any) -> Any:
    """A /classify item as transformers' text-classification pipeline takes it (a sentence pair)."""
    return {"text": item["text"], "text_pair": item["context"]} if isinstance(item, dict) else item


def model_context(model_dir: Path) -> tuple[int, int] | None:
    from model.context import context_settings

    return context_settings(json.loads((model_dir / "training_config.json").read_text()))
