"""Fine-tune the two-head classifier.

Why a hand-written loop rather than ``transformers.Trainer``: two heads with their own
class weights, length-bucketed batches and a strict CPU time budget are a few dozen lines
here and a pile of subclassing there.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from model.classifier import FramingClassifier, length_buckets
from model.schema import Schema
from training.annotations import Example
from training.config import TrainingConfig


class TrainingDataError(ValueError):
    """The data cannot train a model (empty, or a label with too few examples)."""


def set_determinism(seed: int, threads: int = 0) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if threads:
        torch.set_num_threads(threads)


def check_training_data(examples: Sequence[Example], schema: Schema, min_per_label: int) -> None:
    """Refuse, before any compute is spent, data that cannot learn every label."""
    if not examples:
        raise TrainingDataError("no training examples: the annotations file is empty or every line was filtered out")
    frames = Counter(e.frame for e in examples)
    attrs = Counter(e.attribution for e in examples)
    too_few = [f"frame {k!r}: {frames[k]}" for k in schema.frame_names if frames[k] < min_per_label]
    too_few += [f"attribution {k!r}: {attrs[k]}" for k in schema.attribution_names if attrs[k] < min_per_label]
    if too_few:
        raise TrainingDataError(
            f"too few annotated examples per label (need at least {min_per_label}): "
            + ", ".join(too_few)
            + ". Annotate more sentences for these labels or remove them from the schema."
        )


def class_weights(labels: Sequence[int], n_classes: int, mode: str) -> torch.Tensor:
    """Inverse-frequency weights, normalised to mean 1, so rare frames (ethnic cleansing:
    7 of 170 seed sentences) are not drowned out by diplomacy and anti-terror."""
    if mode == "none":
        return torch.ones(n_classes)
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(float)
    weights = np.where(counts > 0, counts.sum() / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights / weights[counts > 0].mean(), dtype=torch.float32)


@dataclass
class EpochLog:
    epoch: int
    loss: float
    seconds: float


def select_synthetic(examples: Sequence[Example], fraction: float, seed: int) -> list[Example]:
    synthetic = [e for e in examples if e.synthetic]
    if fraction >= 1 or not synthetic:
        return list(examples)
    rng = random.Random(seed)
    keep = set(id(e) for e in rng.sample(synthetic, max(1, int(len(synthetic) * fraction))))
    return [e for e in examples if not e.synthetic or id(e) in keep]


def weight_seeds(examples: Sequence[Example], weight: int) -> list[Example]:
    """Repeat each real (non-synthetic) example ``weight`` times when synthetic ones are mixed in.

    Why: the synthetic set is 16 times the size of the annotated seeds; without a weight the
    real annotations, the only text not written by the team, fade to a few percent of training.
    A seed-only run is left as it is (repeating everything would only mean more epochs).
    """
    if weight == 1 or not any(e.synthetic for e in examples):
        return list(examples)
    return [e for e in examples for _ in range(1 if e.synthetic else weight)]


def train_classifier(
    examples: Sequence[Example],
    schema: Schema,
    config: TrainingConfig,
    *,
    on_epoch_end: Callable[[int, FramingClassifier], None] | None = None,
    progress: Callable[[str], None] | None = None,
    check_labels: bool = True,
) -> tuple[FramingClassifier, list[EpochLog]]:
    """Train on ``examples`` (seed and, if present, synthetic) and return the classifier.

    ``on_epoch_end(epoch, clf)`` lets evaluation record per-epoch validation scores
    without a second training run. ``check_labels=False`` lets a cross-validation fold
    train even when its training part lacks a rare label (the fold then scores badly on
    it, which is the honest outcome).
    """
    examples = select_synthetic(examples, config.synthetic_fraction, config.seed)
    if check_labels:
        check_training_data(examples, schema, config.min_examples_per_label)
    examples = weight_seeds(examples, config.seed_weight)
    set_determinism(config.seed, config.threads)
    clf = FramingClassifier.from_encoder(
        config.encoder, schema, dropout=config.dropout, max_length=config.max_length, config=config.to_dict()
    )
    texts = [e.clean for e in examples]
    contexts = [e.context for e in examples] if config.context else None
    y_frame = torch.tensor([schema.frame_names.index(e.frame) for e in examples])
    y_attr = torch.tensor([schema.attribution_names.index(e.attribution) for e in examples])
    frame_loss = nn.CrossEntropyLoss(
        weight=class_weights(y_frame.tolist(), len(schema.frame_names), config.class_weighting)
    )
    attr_loss = nn.CrossEntropyLoss(
        weight=class_weights(y_attr.tolist(), len(schema.attribution_names), config.class_weighting)
    )

    token_ids = clf.encode(texts, contexts)
    batches = length_buckets([len(ids) for ids in token_ids], config.batch_size)
    if config.freeze_embeddings:
        for p in clf.model.encoder.embeddings.parameters():
            p.requires_grad_(False)
    heads = [p for n, p in clf.model.named_parameters() if not n.startswith("encoder.")]
    body = [p for n, p in clf.model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": config.learning_rate}, {"params": heads, "lr": config.head_learning_rate}],
        weight_decay=config.weight_decay,
    )
    total_steps = config.epochs * len(batches)
    warmup = max(1, int(total_steps * config.warmup_ratio))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))
    )
    rng = random.Random(config.seed)
    logs: list[EpochLog] = []
    for epoch in range(1, config.epochs + 1):
        clf.model.train()
        start, running = time.perf_counter(), 0.0
        order = batches[:]
        rng.shuffle(order)  # buckets keep similar lengths together; their order is shuffled
        for idx in order:
            ids, mask = clf._padded([token_ids[i] for i in idx])
            f_logits, a_logits = clf.model(torch.from_numpy(ids), torch.from_numpy(mask))
            loss = frame_loss(f_logits, y_frame[idx]) + config.attribution_loss_weight * attr_loss(
                a_logits, y_attr[idx]
            )
            loss.backward()
            nn.utils.clip_grad_norm_(clf.model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += loss.item() * len(idx)
        logs.append(EpochLog(epoch, running / len(texts), time.perf_counter() - start))
        if progress:
            progress(f"epoch {epoch}/{config.epochs}: loss {logs[-1].loss:.3f} ({logs[-1].seconds:.1f}s)")
        if on_epoch_end:
            on_epoch_end(epoch, clf)
    clf.model.eval()
    return clf, logs
