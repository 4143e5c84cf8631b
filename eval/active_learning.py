"""Does active learning pay? Macro-F1 on held-out sources against labelled sentences, by uncertainty vs at random.

Why this experiment: ``framing annotate export --order uncertainty`` asks analysts to label
first the sentences the model is least sure of (smallest top-two margin of either head,
spread over sources and articles: ``training.labelstudio.spread_order``). That is only worth
their time if a model trained on those sentences is better than one trained on as many
sentences taken at random. This simulates it on the labelled data the project has.

Protocol (``active_learning_curve``):

* **Data**: the real seed sentences and the team-written article sentences (``load_corpus``:
  ``corpus.seeds`` and ``corpus.articles``), read as isolated sentences.
* **Held-out split by group**, drawn again for every repeat: within each camp (the seeds are
  one more camp), ``test_share`` of its groups is held out; a group is an outlet (``source``)
  of the team-written articles, and a fold group of the seeds (near-copies stay together,
  ``training.dataset.plan_folds``). Nothing is tuned on it: the model, its settings and the
  budgets are fixed in advance (``model.tfidf``'s logistic regression).
* **Strategies** start from the same ``start`` random sentences (both heads see at least two
  labels) and grow to each budget in batches: ``uncertainty`` labels next the pool sentences
  the model trained at the previous budget is least sure of, in ``spread_order``; ``random``
  takes them in a seeded random order. An analyst exporting ``--limit N`` per round works the
  same way.
* **Models** are cheap, so it runs in minutes on two cores: ``tfidf_lr`` (the project's word +
  char TF-IDF heads, ``model.tfidf.TfidfHeads``) and, optionally, ``minilm_lr`` (logistic
  regression on frozen MiniLM embeddings, computed once). The fine-tuned model is not
  simulated (one training per point would take hours).
* **Numbers**: frame and attribution macro-F1 on the held-out part, mean and 95% t-interval
  across repeats, and the paired difference uncertainty - random (same split and start in
  each repeat) with its own interval; the pool labelled in full is the ceiling.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from eval.evaluate import git_commit, macro_f1_of
from training.annotations import Example
from training.dataset import Corpus
from training.labelstudio import spread_order, uncertainty_margin

AL_SCHEMA_VERSION = 1
STRATEGIES = ("uncertainty", "random")
MODELS = ("tfidf_lr", "minilm_lr")
DEFAULT_BUDGETS = (25, 50, 100, 200, 400, 800, 1600)


def held_out_split(
    examples: Sequence[Example], group_of: Sequence[str], camp_of: Sequence[str], share: float, seed: int
) -> tuple[list[int], list[int], list[str]]:
    """(pool indices, test indices, held-out groups): ``share`` of each camp's groups, at least one, held out."""
    if not 0 < share < 1:
        raise ValueError(f"test_share must lie strictly between 0 and 1, got {share}")
    rng = random.Random(seed)
    groups_by_camp: dict[str, list[str]] = defaultdict(list)
    for g, c in zip(group_of, camp_of, strict=True):
        if g not in groups_by_camp[c]:
            groups_by_camp[c].append(g)
    held: set[str] = set()
    for camp in sorted(groups_by_camp):
        groups = sorted(groups_by_camp[camp])
        if len(groups) < 2:
            continue  # a camp with one group cannot give up a test group and still train
        rng.shuffle(groups)
        held.update(groups[: max(1, round(share * len(groups)))])
    pool = [i for i in range(len(examples)) if group_of[i] not in held]
    test = [i for i in range(len(examples)) if group_of[i] in held]
    return pool, test, sorted(held)


def _t95(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1)) if n > 1 else float("nan")


def mean_ci(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sd and 95% t-interval across repeats (rounded to 4 places)."""
    arr = np.asarray(values, dtype=float)
    n = len(arr)
    mean = float(arr.mean())
    sd = float(arr.std(ddof=1)) if n > 1 else 0.0
    half = _t95(n) * sd / math.sqrt(n) if n > 1 else 0.0
    return {"n": n, "mean": round(mean, 4), "sd": round(sd, 4), "ci": [round(mean - half, 4), round(mean + half, 4)]}


class _Learner:
    """Fit on labelled indices, predict (frame, attribution) probabilities for any indices; one per model kind."""

    def __init__(self, kind: str, examples: Sequence[Example], corpus: Corpus, embed: Any = None):
        self.kind, self.examples, self.schema = kind, examples, corpus.schema
        self.x = embed([e.clean for e in examples]) if kind == "minilm_lr" else None
        self.fitted: Any = None

    def fit(self, idx: Sequence[int]) -> None:
        from model.tfidf import TfidfHeads, logreg

        ex = [self.examples[i] for i in idx]
        if self.kind == "tfidf_lr":
            self.fitted = TfidfHeads(self.schema).fit(
                [e.clean for e in ex], [e.frame for e in ex], [e.attribution for e in ex]
            )
        else:
            x = self.x[list(idx)]
            self.fitted = (logreg().fit(x, [e.frame for e in ex]), logreg().fit(x, [e.attribution for e in ex]))

    def predict(self, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "tfidf_lr":
            return self.fitted.predict_proba([self.examples[i].clean for i in idx])
        x = self.x[list(idx)]
        out = []
        for clf, names in zip(self.fitted, (self.schema.frame_names, self.schema.attribution_names), strict=True):
            proba = np.zeros((len(idx), len(names)))
            proba[:, [list(names).index(c) for c in clf.classes_]] = clf.predict_proba(x)
            out.append(proba)
        return out[0], out[1]


def _start_set(examples: Sequence[Example], pool: Sequence[int], n: int, rng: random.Random) -> list[int]:
    """``n`` random pool sentences in which each head sees at least two labels (a classifier needs two)."""
    for _ in range(1000):
        chosen = rng.sample(list(pool), n)
        if len({examples[i].frame for i in chosen}) > 1 and len({examples[i].attribution for i in chosen}) > 1:
            return chosen
    raise ValueError(f"could not draw {n} starting sentences covering two labels per head; raise --start")


def active_learning_curve(
    corpus: Corpus,
    *,
    models: Sequence[str] = ("tfidf_lr",),
    repeats: int = 5,
    budgets: Sequence[int] = DEFAULT_BUDGETS,
    start: int = 25,
    test_share: float = 0.25,
    per_article: int = 2,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The curve's JSON content (``reports/eval/active_learning.json``); see the module docstring."""
    bad = sorted(set(models) - set(MODELS))
    if bad or not models:
        raise ValueError(f"unknown model(s) {bad or list(models)}; choose from {list(MODELS)}")
    if repeats < 2:
        raise ValueError(f"repeats must be at least 2 for a confidence interval, got {repeats}")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < start:
        raise ValueError(f"every budget must be at least --start ({start}), got {budgets}")
    examples = list(corpus.seeds) + list(corpus.articles)
    if not corpus.articles:
        raise ValueError("the corpus has no team-written articles (seeds/corpus): too few groups to hold out")
    group_of = [f"seed:{corpus.plan.fold_of[e.sentence_id]}" for e in corpus.seeds] + [
        e.source for e in corpus.articles
    ]
    camp_of = ["SEED"] * len(corpus.seeds) + [e.camp or "?" for e in corpus.articles]
    t0 = time.perf_counter()
    embed = None
    if "minilm_lr" in models:
        from eval.evaluate import FrozenEmbeddings

        log(f"embedding {len(examples)} sentences with the frozen encoder (once) ...")
        embed = FrozenEmbeddings("default")
    learners = {m: _Learner(m, examples, corpus, embed) for m in models}
    points: list[dict[str, Any]] = []
    splits: list[dict[str, Any]] = []
    for rep in range(repeats):
        pool, test, held = held_out_split(examples, group_of, camp_of, test_share, seed=rep)
        rng = random.Random(1000 + rep)
        initial = _start_set(examples, pool, start, rng)
        order_random = [i for i in rng.sample(pool, len(pool)) if i not in set(initial)]
        reach = [b for b in budgets if b <= len(pool)]
        splits.append({"repeat": rep, "n_pool": len(pool), "n_test": len(test), "held_out_groups": held})
        for model, learner in learners.items():
            where = {"model": model, "repeat": rep}
            for strategy in STRATEGIES:
                labelled = list(initial)
                for budget in reach:
                    need = budget - len(labelled)
                    if need > 0 and strategy == "random":
                        taken = set(labelled)
                        labelled += [i for i in order_random if i not in taken][:need]
                    elif need > 0:  # the model trained at the previous budget picks the next batch
                        taken = set(labelled)
                        rest = [i for i in pool if i not in taken]
                        pf, pa = learner.predict(rest)
                        ranked = spread_order(
                            [examples[i].source for i in rest],
                            [examples[i].doc_id for i in rest],
                            uncertainty_margin(pf, pa).tolist(),
                            per_article,
                        )
                        labelled += [rest[k] for k in ranked[:need]]
                    points.append(_point(learner, examples, labelled, test, where | {"strategy": strategy}))
                last = points[-1]
                log(
                    f"  repeat {rep} {model} {strategy}: n={last['n_labelled']} frame {last['frame_macro_f1']:.3f} "
                    f"attribution {last['attribution_macro_f1']:.3f} ({time.perf_counter() - t0:.0f}s)"
                )
            points.append(_point(learner, examples, list(pool), test, where | {"strategy": "all"}))  # the ceiling
    summary, paired = _summarise(points, models)
    result = {
        "al_schema_version": AL_SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "data_fingerprint": corpus.fingerprint,
        "protocol": {
            "name": "pool-based active learning simulation",
            "data": f"{len(corpus.seeds)} seed + {len(corpus.articles)} team-written article sentences, read alone",
            "split": f"per repeat, {test_share:.0%} of each camp's groups held out (a group: an outlet of the "
            "team-written articles; a fold group of the seeds); never tuned on",
            "uncertainty": "smallest margin: min over the frame and attribution heads of (top-1 - top-2 probability), "
            f"spread over sources and articles (training.labelstudio.spread_order, {per_article} per article per "
            "round); the model trained at the previous budget picks the next batch",
            "random": "a seeded random order of the pool",
            "start": f"{start} random sentences shared by both strategies in each repeat",
            "metric": "macro-F1 on the held-out part; mean and 95% t-interval across repeats; paired difference "
            "uncertainty - random per repeat",
        },
        "models": list(models),
        "strategies": list(STRATEGIES),
        "repeats": repeats,
        "budgets": budgets,
        "start": start,
        "test_share": test_share,
        "per_article": per_article,
        "splits": splits,
        "seconds": round(time.perf_counter() - t0, 1),
        "summary": summary,
        "paired": paired,
        "findings": _findings(summary, paired, models),
        "points": points,
    }
    return result


def _point(
    learner: _Learner, examples: Sequence[Example], labelled: list[int], test: list[int], where: dict[str, Any]
) -> dict[str, Any]:
    """Fit on ``labelled``, score the held-out ``test`` sentences; one point of the curve."""
    schema = learner.schema
    learner.fit(labelled)
    pf, pa = learner.predict(test)
    frames = Counter(examples[i].frame for i in labelled)
    attrs = Counter(examples[i].attribution for i in labelled)
    return {
        **where,
        "n_labelled": len(labelled),
        "frame_macro_f1": round(macro_f1_of([examples[i].frame for i in test], pf, schema.frame_names), 4),
        "attribution_macro_f1": round(
            macro_f1_of([examples[i].attribution for i in test], pa, schema.attribution_names), 4
        ),
        "frame_counts": {f: frames[f] for f in schema.frame_names},
        "attribution_counts": {a: attrs[a] for a in schema.attribution_names},
        "sources": len({examples[i].source for i in labelled}),
    }


def _summarise(
    points: list[dict[str, Any]], models: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    summary: list[dict[str, Any]] = []
    for key in dict.fromkeys((p["model"], p["strategy"], p["n_labelled"]) for p in points if p["strategy"] != "all"):
        group = [p for p in points if (p["model"], p["strategy"], p["n_labelled"]) == key]
        summary.append(
            {
                "model": key[0],
                "strategy": key[1],
                "n_labelled": key[2],
                "frame": mean_ci([p["frame_macro_f1"] for p in group]),
                "attribution": mean_ci([p["attribution_macro_f1"] for p in group]),
            }
        )
    for model in models:
        group = [p for p in points if p["model"] == model and p["strategy"] == "all"]
        summary.append(
            {
                "model": model,
                "strategy": "all",
                "n_labelled": round(float(np.mean([p["n_labelled"] for p in group])), 1),
                "frame": mean_ci([p["frame_macro_f1"] for p in group]),
                "attribution": mean_ci([p["attribution_macro_f1"] for p in group]),
            }
        )
    paired: list[dict[str, Any]] = []
    by = {(p["model"], p["strategy"], p["n_labelled"], p["repeat"]): p for p in points}
    for model in models:
        sizes = {p["n_labelled"] for p in points if p["model"] == model and p["strategy"] == "uncertainty"}
        for n in sorted(sizes - {min(sizes)}):  # at the start both strategies hold the same sentences
            reps = sorted(r for (m, s, k, r) in by if (m, s, k) == (model, "uncertainty", n))
            both = [r for r in reps if (model, "random", n, r) in by]
            if len(both) < 2:
                continue
            entry: dict[str, Any] = {"model": model, "n_labelled": n}
            for task in ("frame", "attribution"):
                diffs = [
                    by[(model, "uncertainty", n, r)][f"{task}_macro_f1"]
                    - by[(model, "random", n, r)][f"{task}_macro_f1"]
                    for r in both
                ]
                entry[task] = mean_ci(diffs)
            paired.append(entry)
    return summary, paired


def _findings(summary: list[dict[str, Any]], paired: list[dict[str, Any]], models: Sequence[str]) -> list[str]:
    """Plain sentences read off the numbers: where uncertainty beat random, where it did not, and the ceiling."""
    out = []
    for model in models:
        rows = [p for p in paired if p["model"] == model]
        for task in ("frame", "attribution"):
            better = [p["n_labelled"] for p in rows if p[task]["ci"][0] > 0]
            worse = [p["n_labelled"] for p in rows if p[task]["ci"][1] < 0]
            best = max(rows, key=lambda p, t=task: p[t]["mean"]) if rows else None
            text = f"{model}, {task}: uncertainty sampling is "
            if better:
                text += f"better than random (95% CI of the paired difference above 0) at {better} labelled sentences"
            else:
                text += "never clearly better than random"
            if worse:
                text += f", worse at {worse}"
            if best is not None:
                text += f"; largest mean gain {best[task]['mean']:+.3f} at {best['n_labelled']}"
            ceiling = next(s for s in summary if s["model"] == model and s["strategy"] == "all")
            text += f" (every pool sentence, ~{ceiling['n_labelled']:.0f}: {ceiling[task]['mean']:.3f})."
            out.append(text)
    return out


def curve_markdown(result: dict[str, Any]) -> str:
    """The short Markdown twin of active_learning.json."""

    def cell(block: dict[str, Any]) -> str:
        return f"{block['mean']:.3f} [{block['ci'][0]:.3f}, {block['ci'][1]:.3f}]"

    def diff(block: dict[str, Any]) -> str:
        return f"{block['mean']:+.3f} [{block['ci'][0]:+.3f}, {block['ci'][1]:+.3f}]"

    lines = [
        "# Does active learning pay?",
        "",
        f"{result['protocol']['data']}; {result['protocol']['split']}. {result['repeats']} repeats (split, start "
        f"set and random order drawn again each time). Uncertainty: {result['protocol']['uncertainty']}. "
        f"Created {result['created']}, commit `{result['git_commit']}`, data `{result['data_fingerprint']}`, "
        f"{result['seconds']:.0f} s.",
        "",
    ]
    for model in result["models"]:
        lines += [
            f"## {model}",
            "",
            "| labelled | frame, random | frame, uncertainty | difference | attribution, random | attribution, "
            "uncertainty | difference |",
            "|---|---|---|---|---|---|---|",
        ]
        rows = {(s["strategy"], s["n_labelled"]): s for s in result["summary"] if s["model"] == model}
        paired = {p["n_labelled"]: p for p in result["paired"] if p["model"] == model}
        for n in sorted(k for s, k in rows if s == "uncertainty"):
            r, u, p = rows[("random", n)], rows[("uncertainty", n)], paired.get(n)
            d_f, d_a = (diff(p["frame"]), diff(p["attribution"])) if p else ("(same start)", "(same start)")
            lines.append(
                f"| {n} | {cell(r['frame'])} | {cell(u['frame'])} | {d_f} | {cell(r['attribution'])} | "
                f"{cell(u['attribution'])} | {d_a} |"
            )
        ceiling = next(s for s in result["summary"] if s["model"] == model and s["strategy"] == "all")
        every = f"all (~{ceiling['n_labelled']:.0f})"
        lines += [f"| {every} | {cell(ceiling['frame'])} | | | {cell(ceiling['attribution'])} | | |", ""]
    lines += ["Findings:", ""] + [f"- {f}" for f in result["findings"]] + [""]
    return "\n".join(lines)
