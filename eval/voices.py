"""Leave-one-voice-out: the team's proxy for a kind of outlet the model has never seen.

Why: the seeds are five Western wire reports, but users score Azerbaijani, Armenian,
Russian and Turkish outlets, UN/EU statements and refugee features. For each voice V of
the synthetic multi-voice set, a model is trained on the seeds plus every *other* voice
and tested on V; beside it, a model trained on the seeds alone is tested on the same
sentences. The gap is what augmentation buys on a voice it has not seen.

Caveat, stated in every report: the test sentences are synthetic too, written by the
team in that voice; they are a proxy for real outlets, not a substitute.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from eval.evaluate import FrozenEmbeddings, macro_f1_of, majority_baseline, minilm_baseline, tfidf_baseline
from eval.metrics import classification_metrics
from training.annotations import Example
from training.config import TrainingConfig
from training.dataset import Corpus, drop_synthetic_near_seeds


def _finetuned(config: TrainingConfig) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    def run(train: Sequence[Example], test: Sequence[Example], corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
        from training.train import train_classifier

        clf, _ = train_classifier(train, corpus.schema, config, check_labels=False)
        frame_p, attr_p = clf.predict_proba([e.clean for e in test])
        return frame_p.numpy(), attr_p.numpy()

    return run


def leave_one_voice_out(
    corpus: Corpus,
    config: TrainingConfig,
    *,
    models: Sequence[str] = ("finetuned", "tfidf_lr", "minilm_lr", "majority"),
    n_boot: int = 1000,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    schema = corpus.schema
    voices = sorted({e.voice for e in corpus.synthetic})
    if not voices:
        raise ValueError("leave-one-voice-out needs synthetic data with voices in seeds/synthetic/*.jsonl")
    runners: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
        "majority": majority_baseline,
        "tfidf_lr": tfidf_baseline,
        "finetuned": _finetuned(config),
    }
    if "minilm_lr" in models:
        runners["minilm_lr"] = minilm_baseline(FrozenEmbeddings(config.encoder))
    results: dict[str, Any] = {}
    for model_name in models:
        for variant in ("seed", "seed+other-voices"):
            key = f"{model_name}@{variant}"
            log(f"[{key}]")
            start = time.perf_counter()
            per_voice: dict[str, Any] = {}
            all_gold_f, all_gold_a, all_pf, all_pa = [], [], [], []
            seed_only_cache: tuple[np.ndarray, np.ndarray] | None = None
            all_test = list(corpus.synthetic)
            for voice in voices:
                test = [e for e in corpus.synthetic if e.voice == voice]
                if variant == "seed":
                    if seed_only_cache is None:  # one model on the seeds, tested on every voice
                        seed_only_cache = runners[model_name](corpus.seeds, all_test, corpus)
                    idx = [i for i, e in enumerate(all_test) if e.voice == voice]
                    pf, pa = seed_only_cache[0][idx], seed_only_cache[1][idx]
                else:
                    # other voices' sentences that paraphrase a test sentence would leak it
                    others, _dropped = drop_synthetic_near_seeds(
                        [e for e in corpus.synthetic if e.voice != voice], test
                    )
                    train = list(corpus.seeds) + others
                    pf, pa = runners[model_name](train, test, corpus)
                gold_f, gold_a = [e.frame for e in test], [e.attribution for e in test]
                per_voice[voice] = {
                    "n": len(test),
                    "frame_macro_f1": round(macro_f1_of(gold_f, pf, schema.frame_names), 4),
                    "frame_accuracy": round(
                        float(np.mean(np.array(gold_f) == np.array(schema.frame_names)[pf.argmax(1)])), 4
                    ),
                    "attribution_macro_f1": round(macro_f1_of(gold_a, pa, schema.attribution_names), 4),
                }
                log(
                    f"  {voice}: frame macro-F1 {per_voice[voice]['frame_macro_f1']:.3f}, attribution macro-F1 "
                    f"{per_voice[voice]['attribution_macro_f1']:.3f} (n={len(test)})"
                )
                all_gold_f += gold_f
                all_gold_a += gold_a
                all_pf.append(pf)
                all_pa.append(pa)
            results[key] = {
                "model": model_name,
                "training_data": variant,
                "per_voice": per_voice,
                "frame": classification_metrics(all_gold_f, np.concatenate(all_pf), schema.frame_names, n_boot=n_boot),
                "attribution": classification_metrics(
                    all_gold_a, np.concatenate(all_pa), schema.attribution_names, n_boot=n_boot
                ),
                "seconds": round(time.perf_counter() - start, 1),
            }
    return {
        "protocol": "leave-one-voice-out",
        "caveat": "test sentences are team-written synthetic text in each voice: a proxy for unseen outlets",
        "voices": {v: sum(e.voice == v for e in corpus.synthetic) for v in voices},
        "config": config.to_dict(),
        "data_fingerprint": corpus.fingerprint,
        "models": results,
    }


def voices_markdown(result: dict[str, Any]) -> str:
    voices = list(result["voices"])
    lines = [
        "# Leave-one-voice-out",
        "",
        f"Train on the seeds plus every other voice, test on the held-out voice ({result['caveat']}).",
        "Frame macro-F1 per held-out voice; last columns: overall frame and attribution macro-F1.",
        "",
        "| model | training data | " + " | ".join(voices) + " | frame (all) | attribution (all) |",
        "|---|---|" + "---|" * (len(voices) + 2),
    ]
    for r in result["models"].values():
        cells = [f"{r['per_voice'][v]['frame_macro_f1']:.3f}" for v in voices]
        lines.append(
            f"| {r['model']} | {r['training_data']} | "
            + " | ".join(cells)
            + f" | {r['frame']['macro_f1']:.3f} | {r['attribution']['macro_f1']:.3f} |"
        )
    return "\n".join(lines) + "\n"
