"""Learning curve: would annotating more real sentences pay?

Why this protocol: the question is how macro-F1 on an *unseen source* grows with the
amount of annotated seed data, so the curve uses the evaluation's own leave-one-source-out
folds (``Corpus.fold_splits``) and its own model runners (``eval.evaluate``), and only
shrinks each fold's *seed training part* to a stratified fraction. The held-out source is
always scored in full, and out-of-fold predictions are pooled into one macro-F1 exactly as
``framing evaluate`` does, so the point at fraction 1.0 equals metrics.json.

Two training-data variants answer the question from both sides: ``seed`` (annotated
sentences only) and ``seed+synthetic`` (the synthetic set kept whole while the seed share
varies). A curve still rising at 1.0 says more annotation would pay.

Cost: the cheap models (TF-IDF + LR, frozen MiniLM + LR with cached embeddings) run by
default; ``finetuned`` is available but costs one full nested cross-validation (~17 min on
a 2-core CPU) per point.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from eval.evaluate import (
    FrozenEmbeddings,
    finetune_nested,
    git_commit,
    macro_f1_of,
    majority_baseline,
    minilm_baseline,
    tfidf_baseline,
)
from training.annotations import Example
from training.config import TrainingConfig
from training.dataset import Corpus
from training.train import select_synthetic

CURVE_SCHEMA_VERSION = 1
CURVE_MODELS = ("finetuned", "majority", "tfidf_lr", "minilm_lr")
DEFAULT_MODELS = ("tfidf_lr", "minilm_lr")
DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
VARIANTS = ("seed", "seed+synthetic")


def stratified_subsample(labels: Sequence[str], fraction: float, seed: int) -> list[int]:
    """Indices of a ``fraction`` of ``labels``, stratified by label, in their original order.

    Every label present keeps at least one example, so a small fraction still covers every
    frame (as a small annotation project would make sure to). Fraction 1.0 returns every
    index, so the full-data point reproduces the evaluation exactly.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction >= 1:
        return list(range(len(labels)))
    rng = random.Random(seed)
    keep: list[int] = []
    for label in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == label]
        keep.extend(rng.sample(idx, max(1, round(fraction * len(idx)))))
    return sorted(keep)


def _spread(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {
        "mean": round(float(arr.mean()), 4),
        "sd": round(float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, 4),
        "min": round(float(arr.min()), 4),
        "max": round(float(arr.max()), 4),
    }


def learning_curve(
    corpus: Corpus,
    config: TrainingConfig,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    variants: Sequence[str] = VARIANTS,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    repeats: int = 3,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Pooled out-of-fold macro-F1 per (model, variant, seed fraction, repeat); learning_curve.json content."""
    unknown = sorted(set(models) - set(CURVE_MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {list(CURVE_MODELS)}")
    bad = sorted(set(variants) - set(VARIANTS))
    if bad or not variants:
        raise ValueError(f"variants must be among {list(VARIANTS)}, got {list(variants)}")
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1], got {list(fractions)}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    schema, seeds = corpus.schema, corpus.seeds
    folds = list(corpus.fold_splits())
    fold_names = [f for f, _, _ in folds]
    runners: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
        "majority": majority_baseline,
        "tfidf_lr": tfidf_baseline,
    }
    if "minilm_lr" in models:
        runners["minilm_lr"] = minilm_baseline(FrozenEmbeddings(config.encoder))  # one embedding cache for all
    synthetic = select_synthetic(corpus.synthetic, config.synthetic_fraction, config.seed)
    gold_f = [e.frame for e in seeds]
    gold_a = [e.attribution for e in seeds]
    points: list[dict[str, Any]] = []
    start = time.perf_counter()
    for variant in variants:
        extra: list[Example] = list(synthetic) if variant == "seed+synthetic" else []
        if variant == "seed+synthetic" and not extra:
            log("no synthetic data: skipping the seed+synthetic variant")
            continue
        for model_name in models:
            for fraction in sorted(fractions):
                # at 1.0 nothing is sampled: one repeat is the whole story for a deterministic model
                n_rep = 1 if fraction >= 1 and model_name != "finetuned" else repeats
                for rep in range(n_rep):
                    oof_f = np.zeros((len(seeds), len(schema.frame_names)))
                    oof_a = np.zeros((len(seeds), len(schema.attribution_names)))
                    sizes: dict[str, int] = {}
                    per_fold: dict[str, Any] = {}
                    for k, (fold, train_idx, test_idx) in enumerate(folds):
                        test = [seeds[i] for i in test_idx]
                        if model_name == "finetuned":
                            # the evaluation's nested protocol: the next fold group is inner validation
                            inner_fold = fold_names[(k + 1) % len(fold_names)]
                            inner_idx = [
                                i for i in train_idx if corpus.plan.fold_of[seeds[i].sentence_id] == inner_fold
                            ]
                            pool = [i for i in train_idx if i not in set(inner_idx)]
                        else:
                            pool = list(train_idx)
                        chosen = [
                            pool[j] for j in stratified_subsample([gold_f[i] for i in pool], fraction, 1000 * rep + k)
                        ]
                        sizes[fold] = len(chosen)
                        train = [seeds[i] for i in chosen] + extra
                        if model_name == "finetuned":
                            pf, pa, _ = finetune_nested(
                                train,
                                test,
                                [seeds[i] for i in inner_idx],
                                corpus,
                                replace(config, synthetic_fraction=1.0, seed=config.seed + rep),
                                lambda _msg: None,
                            )
                        else:
                            pf, pa = runners[model_name](train, test, corpus)
                        oof_f[test_idx], oof_a[test_idx] = pf, pa
                        per_fold[fold] = {
                            "n_train_seed": len(chosen),
                            "frame_macro_f1": round(
                                macro_f1_of([gold_f[i] for i in test_idx], pf, schema.frame_names), 4
                            ),
                            "attribution_macro_f1": round(
                                macro_f1_of([gold_a[i] for i in test_idx], pa, schema.attribution_names), 4
                            ),
                        }
                    point = {
                        "model": model_name,
                        "training_data": variant,
                        "fraction": fraction,
                        "repeat": rep,
                        "n_train_seed_mean": round(float(np.mean(list(sizes.values()))), 1),
                        "n_synthetic": len(extra),
                        "frame_macro_f1": round(macro_f1_of(gold_f, oof_f, schema.frame_names), 4),
                        "attribution_macro_f1": round(macro_f1_of(gold_a, oof_a, schema.attribution_names), 4),
                        "per_fold": per_fold,
                    }
                    points.append(point)
                    log(
                        f"  {model_name}@{variant} fraction {fraction:.2f} repeat {rep}: "
                        f"{point['n_train_seed_mean']:.0f} seed sentences/fold, frame {point['frame_macro_f1']:.3f}, "
                        f"attribution {point['attribution_macro_f1']:.3f} ({time.perf_counter() - start:.0f}s)"
                    )
    summary = []
    for key in dict.fromkeys((p["model"], p["training_data"], p["fraction"]) for p in points):
        group = [p for p in points if (p["model"], p["training_data"], p["fraction"]) == key]
        summary.append(
            {
                "model": key[0],
                "training_data": key[1],
                "fraction": key[2],
                "repeats": len(group),
                "n_train_seed_mean": group[0]["n_train_seed_mean"],
                "frame": _spread([p["frame_macro_f1"] for p in group]),
                "attribution": _spread([p["attribution_macro_f1"] for p in group]),
            }
        )
    return {
        "curve_schema_version": CURVE_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "data_fingerprint": corpus.fingerprint,
        "protocol": {
            "name": "leave-one-source-out learning curve",
            "folds": {f: corpus.plan.fold_sources[f] for f in fold_names},
            "metric": "macro-F1 of pooled out-of-fold predictions on the held-out sources (as in metrics.json)",
            "sampling": "stratified by frame within each fold's seed training part; every frame keeps >= 1 "
            "sentence; the held-out source is always scored in full",
            "synthetic": "seed+synthetic keeps the whole synthetic set at every fraction",
        },
        "models": list(models),
        "variants": list(variants),
        "fractions": sorted(fractions),
        "repeats": repeats,
        "config": config.to_dict(),
        "seconds": round(time.perf_counter() - start, 1),
        "summary": summary,
        "points": points,
    }
