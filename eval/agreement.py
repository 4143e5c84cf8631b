"""Inter-annotator agreement (Cohen's kappa) from the files in ``seeds/agreement/``.

Why it matters: a model cannot be trusted further than its labels. Kappa corrects raw
agreement for chance, so a frame set dominated by two labels does not look better than
it is; the report puts it beside the model's macro-F1 as the ceiling to read that against.

Two checks are recorded:

* **seed**: a blind second pass over a random sample of seed sentences
  (``second_pass.jsonl``) against the first-pass labels it was compared with
  (``first_pass.jsonl``), keyed by ``sentence_id``;
* **synthetic**: an independent pass over a sample of the synthetic set
  (``synthetic_second_pass.jsonl``) against the *original* synthetic labels. The synthetic
  files now hold the adjudicated labels, so for adjudicated sentences the original is the
  ``first_pass`` in ``synthetic_adjudication.jsonl``. Kappa is given overall and per batch
  (the synthetic file-name prefix: ``multivoice_*``, ``multivoice2_*``, ...), since each
  batch had its own writers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.dataset import SeedPaths

TASKS = ("frame", "attribution")


class AgreementError(ValueError):
    """An agreement file is missing, malformed or does not match its counterpart."""


def _read(path: Path, key: str) -> dict[str, dict[str, Any]]:
    from training.annotations import AnnotationError, read_jsonl

    out: dict[str, dict[str, Any]] = {}
    try:
        for lineno, record in read_jsonl(path):
            if key not in record:
                raise AgreementError(f"{path}:{lineno}: expected a JSON object with a {key!r} field")
            out[str(record[key])] = record
    except AnnotationError as exc:
        raise AgreementError(f"{exc}; expected one JSON object per line with {key!r} and labels") from None
    return out


def kappa(first: Sequence[str], second: Sequence[str]) -> dict[str, Any]:
    """Cohen's kappa and raw agreement of two label sequences, plus where they differ."""
    from sklearn.metrics import cohen_kappa_score

    if len(first) != len(second) or not first:
        raise AgreementError(f"need two equally long, non-empty label lists, got {len(first)} and {len(second)}")
    agree = sum(a == b for a, b in zip(first, second, strict=True))
    return {
        "n": len(first),
        "kappa": round(float(cohen_kappa_score(first, second)), 4),
        "agreement": round(agree / len(first), 4),
        "disagreements": len(first) - agree,
    }


def _compare(
    first: dict[str, dict[str, Any]], second: dict[str, dict[str, Any]], what: str, note: str
) -> dict[str, Any]:
    missing = sorted(set(second) - set(first))
    if missing:
        raise AgreementError(
            f"{what}: {len(missing)} second-pass sentence(s) have no first-pass label (e.g. {missing[:3]}); "
            "both passes must label the same sentences"
        )
    ids = sorted(second)
    result: dict[str, Any] = {"n": len(ids), "note": note}
    for task in TASKS:
        try:
            result[task] = kappa([first[i][task] for i in ids], [second[i][task] for i in ids])
        except KeyError as exc:
            raise AgreementError(f"{what}: a record lacks the {exc.args[0]!r} label") from None
    return result


def seed_agreement(paths: SeedPaths | None = None) -> dict[str, Any]:
    """Blind second pass vs first pass on the seed sample."""
    root = (paths or SeedPaths()).root / "agreement"
    return _compare(
        _read(root / "first_pass.jsonl", "sentence_id"),
        _read(root / "second_pass.jsonl", "sentence_id"),
        "seed agreement",
        "blind second pass over a random sample of seed sentences vs the first-pass labels",
    )


def synthetic_agreement(paths: SeedPaths | None = None) -> dict[str, Any] | None:
    """Independent pass over a synthetic sample vs the original (pre-adjudication) labels; None without the files."""
    paths = paths or SeedPaths()
    root = paths.root / "agreement"
    if not (root / "synthetic_second_pass.jsonl").is_file():
        return None
    current: dict[str, dict[str, Any]] = {}
    batch_of: dict[str, str] = {}
    for path in paths.synthetic:
        records = _read(path, "id")
        current.update(records)
        batch_of.update(dict.fromkeys(records, path.stem.split("_")[0]))
    adjudicated = (
        _read(root / "synthetic_adjudication.jsonl", "id") if (root / "synthetic_adjudication.jsonl").is_file() else {}
    )
    original = {k: (adjudicated[k]["first_pass"] if k in adjudicated else v) for k, v in current.items()}
    second = _read(root / "synthetic_second_pass.jsonl", "id")
    result = _compare(
        original,
        second,
        "synthetic agreement",
        "independent second pass over a random sample of the synthetic set vs the original labels",
    )
    # each batch (file-name prefix: multivoice, multivoice2, ...) had its own writers and its own check
    result["batches"] = {
        batch: _compare(
            original,
            {k: v for k, v in second.items() if batch_of.get(k) == batch},
            f"synthetic agreement, batch {batch}",
            f"files synthetic/{batch}_*.jsonl",
        )
        for batch in sorted({batch_of[k] for k in second if k in batch_of})
    }
    return result


def article_agreement(paths: SeedPaths | None = None) -> dict[str, Any] | None:
    """Blind second pass over whole sampled articles vs the writers' labels; overall, per camp and per genre.

    ``corpus/agreement/first_pass.jsonl`` keeps the writers' labels of the sampled sentences as they
    were before adjudication (``corpus/annotations.jsonl`` now holds the adjudicated ones); None
    when the corpus has no second pass.
    """
    import csv

    paths = paths or SeedPaths()
    root = paths.corpus / "agreement"
    if not (root / "second_pass.jsonl").is_file():
        return None
    first = _read(root / "first_pass.jsonl", "sentence_id")
    second = _read(root / "second_pass.jsonl", "sentence_id")
    result = _compare(first, second, "article agreement", "blind second pass over sampled whole articles")
    with (paths.corpus / "articles.csv").open(encoding="utf-8", newline="") as fh:
        meta = {row["doc_id"]: row for row in csv.DictReader(fh)}
    doc_of = {sid: str(rec.get("doc_id") or sid.rsplit("-", 1)[0]) for sid, rec in first.items()}
    unknown = sorted({d for d in doc_of.values() if d not in meta})
    if unknown:
        raise AgreementError(f"{root}: sentences of unknown article(s) {unknown[:3]}; not in corpus/articles.csv")
    for key in ("camp", "genre"):
        result[f"by_{key}"] = {
            value: _compare(
                first,
                {k: v for k, v in second.items() if meta[doc_of[k]][key] == value},
                f"article agreement, {key} {value}",
                f"{key} {value}",
            )
            for value in sorted({meta[doc_of[k]][key] for k in second})
        }
    return result


def agreement_summary(paths: SeedPaths | None = None) -> dict[str, Any]:
    """Every check, as the report shows them: seed, articles, synthetic pooled, then each synthetic batch."""
    synthetic = synthetic_agreement(paths)
    batches = {f"synthetic {batch}": a for batch, a in (synthetic or {}).get("batches", {}).items()}
    articles = article_agreement(paths)
    return {
        "seed": seed_agreement(paths),
        **({"articles": articles} if articles else {}),
        "synthetic": synthetic,
        **batches,
    }


def sample_articles(articles: Sequence[Any], share: float = 0.17, seed: int = 0) -> list[str]:
    """Whole articles for a blind second pass: at least ``share`` of each camp's sentences, every genre touched.

    Why whole articles: a sentence's label depends on its neighbours (codebook section 7), so
    the second annotator must read the sampled sentences in their article, in order. Articles
    are taken round-robin over each camp's genres in a seeded random order until the camp's
    share is reached, so every camp and as many genres as possible are checked.
    """
    import random
    from collections import defaultdict

    rng = random.Random(seed)
    sizes: dict[str, int] = defaultdict(int)
    by_camp: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in articles:
        if sizes[e.doc_id] == 0:
            by_camp[e.camp][e.genre].append(e.doc_id)
        sizes[e.doc_id] += 1
    chosen: list[str] = []
    for camp in sorted(by_camp):
        genres = by_camp[camp]
        for docs in genres.values():
            rng.shuffle(docs)
        total = sum(sizes[d] for docs in genres.values() for d in docs)
        taken, order = 0, sorted(genres)
        rng.shuffle(order)
        while taken < share * total and any(genres.values()):
            for genre in order:
                if genres[genre] and taken < share * total:
                    doc = genres[genre].pop()
                    chosen.append(doc)
                    taken += sizes[doc]
    return sorted(chosen)
