"""Leave-one-source-out evaluation of the fine-tuned model against baselines.

Why by source: users point the service at outlets it has never seen, so the question is
how well a model trained on some outlets labels another. Folds come from
``training.dataset`` (near-copies merged, duplicate sentences kept together), and
synthetic sentences are only ever training data.

Why nested epoch selection: in each outer fold one *other* fold group is held out as
inner validation; the epoch with the best inner-validation score is chosen and the outer
test fold is read at that epoch. The test fold never influences a choice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import classification_metrics
from model.profiles import source_profiles
from model.tfidf import logreg
from training.annotations import Example
from training.artefact import git_commit
from training.config import TrainingConfig
from training.dataset import Corpus
from training.train import select_synthetic

METRICS_SCHEMA_VERSION = 1
BASELINES = ("majority", "tfidf_lr", "minilm_lr")


def one_hot(labels: Sequence[str], names: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(labels), len(names)))
    out[np.arange(len(labels)), [list(names).index(x) for x in labels]] = 1.0
    return out


# ------------------------------------------------------------------ baselines
def _fit_predict_sklearn(
    make: Callable[[], Any], x_train: Any, y_train: Sequence[str], x_test: Any, names: Sequence[str]
) -> np.ndarray:
    clf = make().fit(x_train, y_train)
    proba = np.zeros((x_test.shape[0], len(names)))
    proba[:, [list(names).index(c) for c in clf.classes_]] = clf.predict_proba(x_test)
    return proba


def majority_baseline(
    train: Sequence[Example], test: Sequence[Example], corpus: Corpus
) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for attr, names in (("frame", corpus.schema.frame_names), ("attribution", corpus.schema.attribution_names)):
        counts = np.array([sum(getattr(e, attr) == n for e in train) for n in names], dtype=float)
        prior = counts / counts.sum()
        out.append(np.tile(prior, (len(test), 1)))
    return out[0], out[1]


def tfidf_baseline(train: Sequence[Example], test: Sequence[Example], corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """Word+char TF-IDF and logistic regression (``model.tfidf``, also the ensemble partner) on the sentences."""
    from model.tfidf import TfidfHeads

    heads = TfidfHeads(corpus.schema).fit(
        [e.clean for e in train], [e.frame for e in train], [e.attribution for e in train]
    )
    return heads.predict_proba([e.clean for e in test])


class FrozenEmbeddings:
    """Mean-pooled sentence embeddings from the (untrained) encoder, cached per text."""

    def __init__(self, encoder: str):
        from transformers import AutoModel, AutoTokenizer

        from model.classifier import resolve_encoder

        path = resolve_encoder(encoder)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        todo = sorted({t for t in texts if t not in self.cache}, key=len)
        with torch.inference_mode():
            for i in range(0, len(todo), 64):
                chunk = todo[i : i + 64]
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
                for t, v in zip(chunk, pooled.numpy(), strict=True):
                    self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])


def minilm_baseline(embed: FrozenEmbeddings) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def run(train: Sequence[Example], test: Sequence[Example], corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
        x_train, x_test = embed([e.clean for e in train]), embed([e.clean for e in test])
        return (
            _fit_predict_sklearn(logreg, x_train, [e.frame for e in train], x_test, corpus.schema.frame_names),
            _fit_predict_sklearn(
                logreg, x_train, [e.attribution for e in train], x_test, corpus.schema.attribution_names
            ),
        )

    return run


# ------------------------------------------------------------------ fine-tuned
def macro_f1_of(gold: Sequence[str], proba: np.ndarray, names: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(
        f1_score(
            [list(names).index(g) for g in gold],
            proba.argmax(1),
            labels=list(range(len(names))),
            average="macro",
            zero_division=0,
        )
    )


def finetune_nested(
    train: Sequence[Example],
    test: Sequence[Example],
    inner_val: Sequence[Example],
    corpus: Corpus,
    config: TrainingConfig,
    log: Callable[[str], None],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Train on ``train``, pick the epoch on ``inner_val``; return the test probabilities at that epoch."""
    from training.train import train_classifier

    schema = corpus.schema
    snapshots: list[tuple[float, np.ndarray, np.ndarray]] = []

    def on_epoch_end(epoch: int, clf) -> None:
        vf, va = clf.predict_proba([e.clean for e in inner_val])
        score = (
            macro_f1_of([e.frame for e in inner_val], vf.numpy(), schema.frame_names)
            + macro_f1_of([e.attribution for e in inner_val], va.numpy(), schema.attribution_names)
        ) / 2
        tf, ta = clf.predict_proba([e.clean for e in test])
        snapshots.append((score, tf.numpy(), ta.numpy()))
        log(f"    epoch {epoch}: inner-validation mean macro-F1 {score:.3f}")

    train_classifier(train, schema, config, on_epoch_end=on_epoch_end, check_labels=False)
    best = int(np.argmax([s[0] for s in snapshots]))
    return snapshots[best][1], snapshots[best][2], best + 1


# ------------------------------------------------------------------ driver
def cross_validate(
    corpus: Corpus,
    config: TrainingConfig,
    *,
    models: Sequence[str] = ("finetuned", *BASELINES),
    variants: Sequence[str] = ("seed", "seed+synthetic"),
    n_boot: int = 1000,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every (model, training-data variant) through the same folds; return metrics.json content."""
    schema = corpus.schema
    seeds = corpus.seeds
    folds = list(corpus.fold_splits())
    fold_names = [f for f, _, _ in folds]
    embed = FrozenEmbeddings(config.encoder) if "minilm_lr" in models else None
    runners: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
        "majority": majority_baseline,
        "tfidf_lr": tfidf_baseline,
    }
    if embed is not None:
        runners["minilm_lr"] = minilm_baseline(embed)
    synthetic = select_synthetic(corpus.synthetic, config.synthetic_fraction, config.seed)
    gold_frame = [e.frame for e in seeds]
    gold_attr = [e.attribution for e in seeds]
    results: dict[str, Any] = {}
    oof_store: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for variant in variants:
        if variant == "seed+synthetic" and not synthetic:
            log("no synthetic data: skipping the seed+synthetic variant")
            continue
        extra = list(synthetic) if variant == "seed+synthetic" else []
        for model_name in models:
            key = f"{model_name}@{variant}"
            log(f"[{key}]")
            start = time.perf_counter()
            oof_f = np.zeros((len(seeds), len(schema.frame_names)))
            oof_a = np.zeros((len(seeds), len(schema.attribution_names)))
            per_fold: dict[str, Any] = {}
            for k, (fold, train_idx, test_idx) in enumerate(folds):
                test = [seeds[i] for i in test_idx]
                if model_name == "finetuned":
                    inner_fold = fold_names[(k + 1) % len(fold_names)]
                    inner_idx = [i for i in train_idx if corpus.plan.fold_of[seeds[i].sentence_id] == inner_fold]
                    held_out = set(inner_idx)
                    fit_idx = [i for i in train_idx if i not in held_out]
                    log(
                        f"  fold {fold}: train {len(fit_idx)}+{len(extra)} synthetic, inner-val {inner_fold}, "
                        f"test {len(test)}"
                    )
                    pf, pa, epochs = finetune_nested(
                        [seeds[i] for i in fit_idx] + extra,
                        test,
                        [seeds[i] for i in inner_idx],
                        corpus,
                        replace(config, synthetic_fraction=1.0),
                        log,
                    )
                else:
                    pf, pa = runners[model_name]([seeds[i] for i in train_idx] + extra, test, corpus)
                    epochs = None
                oof_f[test_idx], oof_a[test_idx] = pf, pa
                per_fold[fold] = {
                    "n_test": len(test_idx),
                    "frame_macro_f1": round(macro_f1_of([gold_frame[i] for i in test_idx], pf, schema.frame_names), 4),
                    "attribution_macro_f1": round(
                        macro_f1_of([gold_attr[i] for i in test_idx], pa, schema.attribution_names), 4
                    ),
                    "selected_epochs": epochs,
                }
            results[key] = {
                "model": model_name,
                "training_data": variant,
                "frame": classification_metrics(gold_frame, oof_f, schema.frame_names, n_boot=n_boot),
                "attribution": classification_metrics(gold_attr, oof_a, schema.attribution_names, n_boot=n_boot),
                "per_fold": per_fold,
                "seconds": round(time.perf_counter() - start, 1),
            }
            oof_store[key] = (oof_f, oof_a)
            log(
                f"  frame macro-F1 {results[key]['frame']['macro_f1']:.3f} "
                f"{results[key]['frame']['macro_f1_ci']}, attribution macro-F1 "
                f"{results[key]['attribution']['macro_f1']:.3f} ({results[key]['seconds']}s)"
            )

    sources = [e.source for e in seeds]
    gold_profiles = source_profiles(
        sources,
        one_hot(gold_frame, schema.frame_names),
        one_hot(gold_attr, schema.attribution_names),
        schema,
        n_boot=n_boot,
    )
    profiles = {"gold": gold_profiles}
    profile_error: dict[str, Any] = {}
    for key, (pf, pa) in oof_store.items():
        prof = source_profiles(sources, pf, pa, schema, n_boot=n_boot)
        profiles[key] = prof
        profile_error[key] = {
            src: {
                "max_abs_frame_mean_error": round(
                    max(
                        abs(prof[src]["frame_mean"][f] - gold_profiles[src]["frame_mean"][f])
                        for f in schema.frame_names
                    ),
                    4,
                ),
                "max_abs_frame_share_error": round(
                    max(
                        abs(prof[src]["frame_share"][f] - gold_profiles[src]["frame_share"][f])
                        for f in schema.frame_names
                    ),
                    4,
                ),
                "slant_error": round(prof[src]["slant"] - gold_profiles[src]["slant"], 4),
            }
            for src in gold_profiles
        }
    primary = next((k for k in ("finetuned@seed+synthetic", "finetuned@seed") if k in results), next(iter(results)))
    pf, pa = oof_store[primary]
    oof = [
        {
            "sentence_id": e.sentence_id,
            "source": e.source,
            "text": e.clean,
            "gold_frame": e.frame,
            "pred_frame": schema.frame_names[int(pf[i].argmax())],
            "frame_confidence": round(float(pf[i].max()), 4),
            "gold_attribution": e.attribution,
            "pred_attribution": schema.attribution_names[int(pa[i].argmax())],
            "attribution_confidence": round(float(pa[i].max()), 4),
        }
        for i, e in enumerate(seeds)
    ]
    selected = [
        v["selected_epochs"] for v in results.get(primary, {}).get("per_fold", {}).values() if v.get("selected_epochs")
    ]
    return {
        "metrics_schema_version": METRICS_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "data_fingerprint": corpus.fingerprint,
        "data_checksums": corpus.checksums,
        "config": config.to_dict(),
        "protocol": {
            "name": "leave-one-source-out",
            "folds": {f: corpus.plan.fold_sources[f] for f in fold_names},
            "n_seed_sentences": len(seeds),
            "n_synthetic_sentences": len(synthetic),
            "n_synthetic_dropped_as_near_seed": len(corpus.dropped_synthetic),
            "epoch_selection": "nested: per outer fold, best epoch on one held-out inner fold group",
        },
        "primary": primary,
        "recommended_epochs": int(np.median(selected)) if selected else None,
        "models": results,
        "source_profiles": profiles,
        "profile_error": profile_error,
        "oof_predictions": oof,
    }


def recommended_epochs(metrics_path: Path | None) -> int | None:
    """The epoch count nested cross-validation chose (``recommended_epochs`` in metrics.json), if any.

    Why: the final model, the leave-one-voice-out models and the backend benchmark's fold
    models train for a fixed number of epochs; taking it from the source CV keeps that
    choice away from any test set.
    """
    if metrics_path is None or not Path(metrics_path).is_file():
        return None
    epochs = json.loads(Path(metrics_path).read_text()).get("recommended_epochs")
    return int(epochs) if epochs else None


def summary_markdown(metrics: dict[str, Any]) -> str:
    """A short, human-readable table of the results (DIR/summary.md)."""
    lines = [
        "# Evaluation summary",
        "",
        f"Protocol: {metrics['protocol']['name']} over {len(metrics['protocol']['folds'])} fold groups "
        f"({metrics['protocol']['n_seed_sentences']} seed sentences; "
        f"{metrics['protocol']['n_synthetic_sentences']} synthetic sentences used for training only). "
        f"Data {metrics['data_fingerprint']}, commit {metrics['git_commit'][:10]}, {metrics['created']}.",
        "",
        "| model | training data | frame macro-F1 [95% CI] | frame acc | frame ECE "
        "| attribution macro-F1 [95% CI] | attr acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(metrics["models"].values(), key=lambda r: -r["frame"]["macro_f1"]):
        f, a = r["frame"], r["attribution"]
        lines.append(
            f"| {r['model']} | {r['training_data']} | {f['macro_f1']:.3f} [{f['macro_f1_ci'][0]:.3f}, "
            f"{f['macro_f1_ci'][1]:.3f}] | {f['accuracy']:.3f} | {f['ece']:.3f} | {a['macro_f1']:.3f} "
            f"[{a['macro_f1_ci'][0]:.3f}, {a['macro_f1_ci'][1]:.3f}] | {a['accuracy']:.3f} |"
        )
    primary = metrics["primary"]
    lines += [
        "",
        f"## Per-source profile error ({primary}, out-of-fold vs gold)",
        "",
        "| source | max frame-share error | max mean-probability error | slant error |",
        "|---|---|---|---|",
    ]
    for src, err in metrics["profile_error"].get(primary, {}).items():
        lines.append(
            f"| {src} | {err['max_abs_frame_share_error']:.3f} | {err['max_abs_frame_mean_error']:.3f} | "
            f"{err['slant_error']:+.3f} |"
        )
    if metrics.get("recommended_epochs"):
        lines += ["", f"Epochs chosen by inner validation per fold; median: {metrics['recommended_epochs']}."]
    return "\n".join(lines) + "\n"


def write_reports(metrics: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    mpath, spath = out_dir / "metrics.json", out_dir / "summary.md"
    tmp = mpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    tmp.replace(mpath)
    spath.write_text(summary_markdown(metrics), encoding="utf-8")
    return mpath, spath
