"""Evaluation on whole articles: leave-one-camp-out, and articles -> real seed outlets.

Why these protocols: the independent check on 33 real outlets showed that figures
measured on the team's isolated sentences (leave-one-voice-out, 0.87) say little about
real coverage (0.59). Two protocols here are closer to it:

* **leave-one-camp-out by article** (``camp``): train on the seeds and the articles of five
  camps, test on every article of the sixth. Each camp's articles were written by one
  writer who wrote no article of any other camp, so the test camp's writing style, outlets
  and quoting habits are unseen. Still the team's own writing: optimistic.
* **articles -> seeds** (``seeds``): train on the team-written articles only, test on the
  170 annotated sentences of the five real seed reports, each read in its real article.
  The only figures here on third-party text.

Both compare the sentence-only and the context-reading fine-tuned model, TF-IDF, and the
average of each fine-tuned model's probabilities with TF-IDF's, with bootstrap CIs, per
label, per camp and per genre. Epochs are fixed in the config, never chosen on a test fold.
The context window is chosen on one development camp (``dev_camp``), whose own
leave-one-camp-out figure is therefore marked as used for that choice.

Steps: :func:`camp_folds` -> :func:`run_protocols` (per fold: :func:`_fit_predict`) ->
:func:`articles_markdown`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval.evaluate import git_commit, macro_f1_of, tfidf_baseline
from eval.metrics import classification_metrics
from training.annotations import Example
from training.config import TrainingConfig
from training.dataset import Corpus

VIEWS = ("sentence", "context")
WINDOW_CANDIDATES = (1, 2)


def camp_folds(corpus: Corpus) -> list[tuple[str, list[Example], list[Example]]]:
    """(camp, training articles, test articles) per camp; refuses a fold whose test writer also wrote training text."""
    folds = []
    for camp in sorted({e.camp for e in corpus.articles}):
        test = [e for e in corpus.articles if e.camp == camp]
        train = [e for e in corpus.articles if e.camp != camp]
        shared = {e.writer for e in test} & {e.writer for e in train}
        if shared:
            raise ValueError(
                f"leave-one-camp-out needs the {camp} articles' writers to have written no training article, "
                f"but {sorted(shared)} also wrote articles of other camps; give each camp its own writer"
            )
        folds.append((camp, train, test))
    return folds


def _config_for(config: TrainingConfig, view: str, window: int) -> TrainingConfig:
    return replace(config, context=view == "context", context_window=window, use_synthetic=False)


def _fit_predict(
    corpus: Corpus,
    config: TrainingConfig,
    train: Sequence[Example],
    test: Sequence[Example],
    log: Callable,
    cache: Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fine-tune on ``train`` and return the test probabilities (context filled as ``config`` reads it).

    With ``cache`` (a file path), finished folds are kept: a long run stopped halfway resumes where it
    stopped. The file name carries the data fingerprint and every setting that changes the result.
    """
    from training.train import train_classifier

    if cache is not None and cache.is_file():
        log(f"    reusing {cache.name}")
        with np.load(cache) as saved:
            return saved["frame"], saved["attribution"]
    if config.context:
        train = corpus.with_context(train, config.context_window, config.context_chars)
        test = corpus.with_context(test, config.context_window, config.context_chars)
    clf, _ = train_classifier(train, corpus.schema, config, check_labels=False, progress=lambda m: log(f"    {m}"))
    contexts = [e.context for e in test] if config.context else None
    pf, pa = clf.predict_proba([e.clean for e in test], contexts=contexts)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, frame=pf.numpy(), attribution=pa.numpy())
    return pf.numpy(), pa.numpy()


def _cache_file(cache_dir: Path | None, corpus: Corpus, config: TrainingConfig, fold: str) -> Path | None:
    if cache_dir is None:
        return None
    digest = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:10]
    return cache_dir / f"{corpus.fingerprint}-{fold}-{digest}.npz"


def _scores(examples: Sequence[Example], pf: np.ndarray, pa: np.ndarray, corpus: Corpus, n_boot: int) -> dict:
    """Overall metrics with CIs and per-label figures, plus macro-F1 per camp and per genre."""
    schema = corpus.schema
    out: dict[str, Any] = {
        "frame": classification_metrics([e.frame for e in examples], pf, schema.frame_names, n_boot=n_boot),
        "attribution": classification_metrics(
            [e.attribution for e in examples], pa, schema.attribution_names, n_boot=n_boot
        ),
    }
    for key in ("camp", "genre", "source"):
        groups: dict[str, list[int]] = defaultdict(list)
        for i, e in enumerate(examples):
            groups[getattr(e, key) or "-"].append(i)
        out[f"by_{key}"] = {
            g: {
                "n": len(idx),
                "frame_macro_f1": round(macro_f1_of([examples[i].frame for i in idx], pf[idx], schema.frame_names), 4),
                "attribution_macro_f1": round(
                    macro_f1_of([examples[i].attribution for i in idx], pa[idx], schema.attribution_names), 4
                ),
            }
            for g, idx in sorted(groups.items())
        }
    return out


def _summarise(
    name: str,
    test: Sequence[Example],
    probs: dict[str, tuple[np.ndarray, np.ndarray]],
    corpus: Corpus,
    n_boot: int,
) -> dict[str, Any]:
    """Every model's scores on one protocol's pooled test set, the ensembles included."""
    tf_f, tf_a = probs["tfidf_lr"]
    for view in VIEWS:
        if f"finetuned_{view}" in probs:
            ff, fa = probs[f"finetuned_{view}"]
            probs[f"ensemble_{view}"] = ((ff + tf_f) / 2, (fa + tf_a) / 2)
    return {
        "protocol": name,
        "n_test": len(test),
        "models": {key: _scores(test, pf, pa, corpus, n_boot) for key, (pf, pa) in probs.items()},
    }


def choose_window(
    corpus: Corpus, config: TrainingConfig, dev_camp: str, log: Callable[[str], None], cache_dir: Path | None = None
) -> tuple[int, dict[str, Any], tuple[np.ndarray, np.ndarray]]:
    """The smallest context window whose macro-F1 on ``dev_camp`` held out is not significantly below the best.

    Why not simply the best: every sentence of context costs inference time (a window of 2
    made the default path 2.70x ``transformers.pipeline`` against 3.03-3.11x for 1), so a wider
    window has to earn it. "Significantly below": the 95% paired bootstrap interval of the
    gap in mean(frame, attribution) macro-F1 to the best window lies above 0. Returns
    (window, the choice with its scores and gaps, the window's dev-camp probabilities, which
    the camp protocol reuses).
    """
    folds = {camp: (train, test) for camp, train, test in camp_folds(corpus)}
    if dev_camp not in folds:
        raise ValueError(f"development camp {dev_camp!r} has no articles; camps are {sorted(folds)}")
    train, test = folds[dev_camp]
    scores, probs = {}, {}
    for window in WINDOW_CANDIDATES:
        log(f"[window {window}] train on {len(train)} article + {len(corpus.seeds)} seed sentences, dev {dev_camp}")
        cfg = _config_for(config, "context", window)
        pf, pa = _fit_predict(
            corpus, cfg, [*corpus.seeds, *train], test, log, _cache_file(cache_dir, corpus, cfg, dev_camp)
        )
        f = macro_f1_of([e.frame for e in test], pf, corpus.schema.frame_names)
        a = macro_f1_of([e.attribution for e in test], pa, corpus.schema.attribution_names)
        scores[str(window)] = {"frame_macro_f1": round(f, 4), "attribution_macro_f1": round(a, 4)}
        probs[window] = (pf, pa)
        log(f"  window {window}: frame {f:.3f}, attribution {a:.3f}")
    best = max(WINDOW_CANDIDATES, key=lambda w: sum(scores[str(w)].values()))
    gaps = {str(w): _bootstrap_gap(test, corpus, probs[best], probs[w], config.seed) for w in WINDOW_CANDIDATES}
    window = next(w for w in WINDOW_CANDIDATES if w == best or gaps[str(w)][0] <= 0)
    log(f"  best {best}; chosen {window} (95% CI of each window's gap to the best: {gaps})")
    choice = {
        "dev_camp": dev_camp,
        "scores": scores,
        "best": best,
        "gap_to_best_ci": gaps,
        "rule": "the smallest window whose gap in mean(frame, attribution) macro-F1 to the best is not "
        "significantly above 0 (95% paired bootstrap over the dev camp's sentences)",
    }
    return window, choice, probs[window]


def _bootstrap_gap(
    test: Sequence[Example],
    corpus: Corpus,
    best: tuple[np.ndarray, np.ndarray],
    other: tuple[np.ndarray, np.ndarray],
    seed: int,
    n_boot: int = 1000,
) -> list[float]:
    """95% paired bootstrap interval of mean(frame, attribution) macro-F1: ``best`` minus ``other``."""
    from sklearn.metrics import f1_score

    schema = corpus.schema
    gold = [
        np.array([schema.frame_names.index(e.frame) for e in test]),
        np.array([schema.attribution_names.index(e.attribution) for e in test]),
    ]
    labels = [list(range(len(schema.frame_names))), list(range(len(schema.attribution_names)))]
    picks = [[p.argmax(1) for p in best], [p.argmax(1) for p in other]]

    def mean_f1(pred: list[np.ndarray], idx: np.ndarray) -> float:
        per_task = zip(gold, pred, labels, strict=True)
        return float(
            np.mean([f1_score(g[idx], q[idx], labels=k, average="macro", zero_division=0) for g, q, k in per_task])
        )

    rng = np.random.default_rng(seed)
    n = len(test)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        diffs.append(mean_f1(picks[0], idx) - mean_f1(picks[1], idx))
    return [round(float(np.percentile(diffs, 2.5)), 4), round(float(np.percentile(diffs, 97.5)), 4)]


def run_protocols(
    corpus: Corpus,
    config: TrainingConfig,
    *,
    dev_camp: str = "INTL",
    window: int | None = None,
    views: Sequence[str] = VIEWS,
    n_boot: int = 1000,
    log: Callable[[str], None] = print,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Both protocols for every view; ``window=None`` chooses the context window on ``dev_camp`` first.

    ``cache_dir`` keeps each fine-tuned fold's test probabilities so an interrupted run resumes.
    """
    if not corpus.articles:
        raise ValueError("no team-written articles (seeds/corpus/annotations.jsonl): nothing to evaluate by camp")
    start = time.perf_counter()
    window_choice: dict[str, Any] = {"dev_camp": None, "scores": {}}
    reuse: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    if window is None:
        window, window_choice, dev_probs = choose_window(corpus, config, dev_camp, log, cache_dir)
        reuse[("context", dev_camp)] = dev_probs
    folds = camp_folds(corpus)
    camp_test = [e for _, _, test in folds for e in test]
    camp_probs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
    for camp, train, test in folds:
        log(f"[leave out {camp}] train {len(train)} article + {len(corpus.seeds)} seed sentences, test {len(test)}")
        camp_probs["tfidf_lr"].append(tfidf_baseline([*corpus.seeds, *train], test, corpus))
        for view in views:
            if (view, camp) in reuse:
                camp_probs[f"finetuned_{view}"].append(reuse[(view, camp)])
                continue
            log(f"  {view}")
            cfg = _config_for(config, view, window)
            cache = _cache_file(cache_dir, corpus, cfg, camp)
            camp_probs[f"finetuned_{view}"].append(_fit_predict(corpus, cfg, [*corpus.seeds, *train], test, log, cache))
    camp_result = _summarise(
        "leave-one-camp-out",
        camp_test,
        {k: (np.vstack([p[0] for p in v]), np.vstack([p[1] for p in v])) for k, v in camp_probs.items()},
        corpus,
        n_boot,
    )

    log(f"[articles -> seeds] train {len(corpus.articles)} article sentences, test {len(corpus.seeds)} seed sentences")
    seed_probs = {"tfidf_lr": tfidf_baseline(corpus.articles, corpus.seeds, corpus)}
    for view in views:
        log(f"  {view}")
        cfg = _config_for(config, view, window)
        cache = _cache_file(cache_dir, corpus, cfg, "seeds")
        seed_probs[f"finetuned_{view}"] = _fit_predict(corpus, cfg, corpus.articles, corpus.seeds, log, cache)
    seed_result = _summarise("articles-to-seeds", corpus.seeds, seed_probs, corpus, n_boot)

    writers = defaultdict(set)
    for e in corpus.articles:
        writers[e.camp].add(e.writer)
    return {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "data_fingerprint": corpus.fingerprint,
        "config": config.to_dict(),
        "context_window": window,
        "window_choice": window_choice,
        "n_articles": len({e.doc_id for e in corpus.articles}),
        "n_article_sentences": len(corpus.articles),
        "writers_by_camp": {c: sorted(w) for c, w in sorted(writers.items())},
        "protocols": {"camp": camp_result, "seeds": seed_result},
        "seconds": round(time.perf_counter() - start, 1),
    }


def _row(name: str, r: dict[str, Any]) -> str:
    f, a = r["frame"], r["attribution"]
    return (
        f"| {name} | {f['macro_f1']:.3f} [{f['macro_f1_ci'][0]:.2f}, {f['macro_f1_ci'][1]:.2f}] | {f['accuracy']:.3f} "
        f"| {a['macro_f1']:.3f} [{a['macro_f1_ci'][0]:.2f}, {a['macro_f1_ci'][1]:.2f}] | {a['accuracy']:.3f} |"
    )


def articles_markdown(result: dict[str, Any]) -> str:
    """Tables for the README and the report: both protocols, every model, per camp/genre/source and label."""
    lines = ["# Evaluation on whole articles", ""]
    choice = result["window_choice"]
    if choice.get("dev_camp"):
        tried = ", ".join(
            f"{w}: frame {s['frame_macro_f1']:.3f} / attribution {s['attribution_macro_f1']:.3f}"
            for w, s in choice["scores"].items()
        )
        rule = (
            f" by the rule: {choice['rule']}; gaps to the best: {choice['gap_to_best_ci']}" if "rule" in choice else ""
        )
        lines += [
            f"Context window {result['context_window']} sentence(s) either side, chosen on the {choice['dev_camp']} "
            f"camp held out ({tried}){rule}; that camp's row below was used for the choice.",
            "",
        ]
    titles = {
        "camp": "Leave-one-camp-out by article (team-written test camp, unseen writer: optimistic)",
        "seeds": "Articles -> real seed outlets (trained on team-written articles only; third-party test text)",
    }
    for key in ("seeds", "camp"):
        proto = result["protocols"][key]
        lines += [
            f"## {titles[key]}",
            "",
            f"{proto['n_test']} test sentences.",
            "",
            "| model | frame macro-F1 [95% CI] | frame acc | attribution macro-F1 [95% CI] | attr acc |",
            "|---|---|---|---|---|",
        ]
        lines += [_row(name, r) for name, r in proto["models"].items()]
        for group in ("camp", "genre") if key == "camp" else ("source",):
            lines += _group_table(proto, group)
        lines += ["", "Per-label F1:", "", "| model | " + " | ".join(_labels(proto)) + " |"]
        lines.append("|---" * (len(_labels(proto)) + 1) + "|")
        for name, r in proto["models"].items():
            per = {**r["frame"]["per_label"], **r["attribution"]["per_label"]}
            lines.append(f"| {name} | " + " | ".join(f"{per[k]['f1']:.2f}" for k in _labels(proto)) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _group_table(proto: dict[str, Any], group: str) -> list[str]:
    """Markdown lines: frame / attribution macro-F1 of every model for each value of ``group`` (camp, genre, source)."""
    models = list(proto["models"])
    groups = proto["models"][models[0]][f"by_{group}"]
    lines = ["", f"Frame / attribution macro-F1 by {group}:", ""]
    lines += ["| " + group + " | n | " + " | ".join(models) + " |", "|---" * (len(models) + 2) + "|"]
    for g in groups:
        cells = [
            f"{proto['models'][m][f'by_{group}'][g]['frame_macro_f1']:.2f} / "
            f"{proto['models'][m][f'by_{group}'][g]['attribution_macro_f1']:.2f}"
            for m in models
        ]
        lines.append(f"| {g} | {groups[g]['n']} | " + " | ".join(cells) + " |")
    return lines


def _labels(proto: dict[str, Any]) -> list[str]:
    r = next(iter(proto["models"].values()))
    return [*r["frame"]["per_label"], *r["attribution"]["per_label"]]
