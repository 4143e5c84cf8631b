"""``framing score --engine ray``: the same chunk scoring on a Ray Data actor pool.

Why the unit of work is a whole chunk: the local engine labels each checkpoint chunk in
one ``predict_proba`` call (length-bucketed batches over the chunk's sentences), and
batch composition decides the last bits of a float. Giving each Ray call exactly one
chunk, scored by the same ``serving.batch.chunk.score_chunk``, keeps the two engines' outputs
identical and lets the driver checkpoint chunk by chunk as results stream back, so a Ray
run resumes exactly like a local one.

Each actor (``ChunkScorer``) loads the model once and scores many chunks; ``--replicas``
sets the pool size. Ray starts locally (``ray.init`` with this machine's CPUs, no
dashboard) unless ``--ray-address`` names an existing cluster; the model folder must then
be readable at the same path on every node (a shared file system). Inputs are read and
outputs written by the driver with the local engine's code. This module imports Ray only
when the engine is used, so the CLI works without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from serving.batch.chunk import ChunkResult
from serving.batch.engines import Scorer
from serving.batch.records import ArticleRecord, RunError, ScoreOptions, UsageError


class ChunkScorer:
    """A Ray actor: one model replica; ``__call__`` scores one chunk per row of the batch."""

    def __init__(self, model_dir: str, backend: str | None, batch_size: int | None, threads: int):
        import torch

        from serving.batch.engines import load_classifier, local_predict

        torch.set_num_threads(max(1, threads))  # the torch backend; ONNX Runtime gets its share below
        self.clf = load_classifier(Path(model_dir), backend, threads=max(1, threads))
        self.predict = local_predict(self.clf, batch_size)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from serving.batch.chunk import score_chunk

        chunk_ids, sentences, articles, counts = [], [], [], []
        for k, payload in zip(batch["chunk"], batch["articles"], strict=True):
            arts = [ArticleRecord(**a) for a in json.loads(payload)]
            s, a = score_chunk(self.predict, self.clf.schema, arts, self.clf.context_settings).to_bytes()
            chunk_ids.append(int(k))
            sentences.append(s)
            articles.append(a)
            counts.append(len(arts))
        return {"chunk": chunk_ids, "sentences": sentences, "articles": articles, "n_articles": counts}


def _init_ray(address: str | None, log: Callable[[str], None]) -> bool:
    """Start (or connect to) Ray; True when this call started it and must shut it down."""
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray Data: pip install 'ray[data]' (or pip install -e '.[ray]')") from None
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
    try:
        if address:
            log(f"connecting to the Ray cluster at {address}")
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RunError(f"cannot start Ray{f' at {address}' if address else ''}: {exc}") from None
    return True


def ray_engine(
    pending: Iterable[tuple[int, list[ArticleRecord]]],
    scorer: Scorer,
    options: ScoreOptions,
    *,
    log: Callable[[str], None] = lambda _m: None,
) -> Iterator[tuple[int, ChunkResult, int]]:
    """(chunk index, result, articles in it) for every pending chunk, in completion order."""
    if scorer.model_dir is None:
        raise UsageError("--engine ray loads the model itself; it cannot be combined with --url")
    items = [{"chunk": k, "articles": json.dumps([asdict(a) for a in arts])} for k, arts in pending]
    if not items:
        return
    started = _init_ray(options.ray_address, log)
    try:
        import ray

        cpus = int(ray.cluster_resources().get("CPU", 1))
        replicas = options.replicas or max(1, min(len(items), cpus // 2 or 1))
        threads = max(1, cpus // replicas)
        log(f"Ray: {replicas} model replicas x {threads} CPU threads, {len(items)} chunks")
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        scored = ds.map_batches(
            ChunkScorer,
            fn_constructor_kwargs={
                "model_dir": str(Path(scorer.model_dir).resolve()),
                "backend": scorer.backend,
                "batch_size": options.batch_size,
                "threads": threads,
            },
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=replicas),
            num_cpus=threads,
            batch_format="numpy",
        )
        for batch in scored.iter_batches(batch_size=1, batch_format="numpy"):
            for k, s, a, n in zip(
                batch["chunk"], batch["sentences"], batch["articles"], batch["n_articles"], strict=True
            ):
                yield int(k), ChunkResult.from_bytes(bytes(s), bytes(a)), int(n)
    except Exception as exc:  # Ray wraps worker errors in its own types; keep the checkpoint, say what failed
        if isinstance(exc, (UsageError, RunError)):
            raise
        raise RunError(f"the Ray engine failed: {type(exc).__name__}: {str(exc)[:2000]}") from exc
    finally:
        if started:
            import ray

            ray.shutdown()
