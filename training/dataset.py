"""Annotations -> ``datasets.DatasetDict`` with leak-free leave-one-source-out folds.

Why the care over folds: the seeds include near-copies of one report (000 and 002) and
outlets that reuse the same quotations. A random or naive per-source split would test
the model on paraphrases of its own training sentences and overstate how well it
transfers to a new outlet, which is the one thing users need to know. So:

1. Articles that are near-copies of each other (a large share of their sentences have a
   near-duplicate in the other) form one *fold group*: they are one source.
2. Remaining near-duplicate sentences across fold groups (a shared quotation) form
   *duplicate groups*; a whole group is placed in the fold of its first member, so a
   sentence is never tested while its twin is in training.
3. Synthetic sentences that are near-duplicates of any seed sentence are dropped, and
   synthetic data is only ever training data.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from model.schema import Schema, load_schema
from training.annotations import AnnotationError, Example, load_article_meta, load_seed_annotations, load_synthetic

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"
DUPLICATE_THRESHOLD = 0.5  # cosine of char 3-5-gram TF-IDF; paraphrased copies score 0.5-0.97
NEAR_COPY_SHARE = 0.3  # share of an article's sentences with a twin elsewhere -> same report


@dataclass(frozen=True)
class SeedPaths:
    """Where the data lives; a user retraining for another conflict points this elsewhere."""

    root: Path = SEEDS_DIR

    @property
    def schema(self) -> Path:
        return self.root / "schema.yaml"

    @property
    def annotations(self) -> Path:
        return self.root / "annotations.jsonl"

    @property
    def articles(self) -> Path:
        return self.root / "articles"

    @property
    def synthetic(self) -> list[Path]:
        return sorted((self.root / "synthetic").glob("*.jsonl"))

    @property
    def checksums(self) -> Path:
        return self.root / "CHECKSUMS.sha256"

    @property
    def corpus(self) -> Path:
        """Team-written whole articles: ``annotations.jsonl``, ``articles/``, ``articles.csv`` (optional)."""
        return self.root / "corpus"

    def data_files(self) -> list[Path]:
        """Every file whose content defines the training data (checksummed)."""
        files = [
            self.schema,
            self.annotations,
            self.root / "sources.csv",
            *sorted(self.articles.glob("*.txt")),
            *sorted((self.root / "agreement").glob("*.jsonl")),
            self.corpus / "annotations.jsonl",
            self.corpus / "articles.csv",
            *sorted((self.corpus / "articles").glob("*.txt")),
            *sorted((self.corpus / "agreement").glob("*.jsonl")),
        ]
        return [f for f in files + self.synthetic if f.is_file()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compute_checksums(paths: SeedPaths) -> dict[str, str]:
    return {str(p.relative_to(paths.root)): sha256(p) for p in paths.data_files()}


def write_checksums(paths: SeedPaths) -> Path:
    lines = [f"{digest}  {name}" for name, digest in sorted(compute_checksums(paths).items())]
    paths.checksums.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths.checksums


def read_checksums(paths: SeedPaths) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in paths.checksums.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip()] = digest
    return out


def data_fingerprint(checksums: dict[str, str]) -> str:
    """One short hash over all data files: what the model card and /info report."""
    joined = "\n".join(f"{k}={v}" for k, v in sorted(checksums.items()))
    return hashlib.sha256(joined.encode()).hexdigest()[:16]


def similarity_matrix(texts: Sequence[str], others: Sequence[str] | None = None) -> np.ndarray:
    """Cosine similarity of character 3-5-gram TF-IDF vectors (catches reworded copies)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = [t.lower() for t in texts] + [t.lower() for t in (others or [])]
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit_transform(corpus)
    left, right = matrix[: len(texts)], matrix[len(texts) :] if others is not None else matrix[: len(texts)]
    return (left @ right.T).toarray()


class _UnionFind:
    def __init__(self, items: Sequence[str]):
        self.parent = {i: i for i in items}

    def find(self, x: str) -> str:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        self.parent[rb] = ra


@dataclass(frozen=True)
class FoldPlan:
    """Which fold each seed sentence is tested in, and why."""

    fold_of: dict[str, str]  # sentence_id -> fold name
    dup_group_of: dict[str, str]  # sentence_id -> duplicate group id (itself if none)
    fold_sources: dict[str, list[str]]  # fold name -> sources merged into it

    @property
    def folds(self) -> list[str]:
        return sorted(self.fold_sources)


def plan_folds(examples: Sequence[Example], threshold: float = DUPLICATE_THRESHOLD) -> FoldPlan:
    sims = similarity_matrix([e.clean for e in examples])
    sources = sorted({e.source for e in examples})
    ids = [e.sentence_id for e in examples]

    # 1. sources that are near-copies of one report become one fold group
    twins: dict[tuple[str, str], set[str]] = defaultdict(set)
    for i, a in enumerate(examples):
        for j, b in enumerate(examples):
            if a.source != b.source and sims[i, j] >= threshold:
                twins[(a.source, b.source)].add(a.sentence_id)
    size = defaultdict(int)
    for e in examples:
        size[e.source] += 1
    source_uf = _UnionFind(sources)
    for (sa, sb), shared in twins.items():
        if len(shared) / size[sa] >= NEAR_COPY_SHARE:
            source_uf.union(sa, sb)
    fold_sources: dict[str, list[str]] = defaultdict(list)
    for s in sources:
        fold_sources[source_uf.find(s)].append(s)
    fold_name = {s: "+".join(fold_sources[source_uf.find(s)]) for s in sources}
    fold_sources = {"+".join(v): v for v in fold_sources.values()}

    # 2. duplicate groups of sentences, kept together in the fold of their first member
    sent_uf = _UnionFind(ids)
    for i in range(len(examples)):
        for j in range(i + 1, len(examples)):
            if sims[i, j] >= threshold:
                sent_uf.union(ids[i], ids[j])
    order = {sid: k for k, sid in enumerate(ids)}
    members: dict[str, list[int]] = defaultdict(list)
    for k, sid in enumerate(ids):
        members[sent_uf.find(sid)].append(k)
    fold_of: dict[str, str] = {}
    dup_group_of: dict[str, str] = {}
    for root, idx in members.items():
        first = min(idx, key=lambda k: order[ids[k]])
        for k in idx:
            fold_of[ids[k]] = fold_name[examples[first].source]
            dup_group_of[ids[k]] = root
    return FoldPlan(fold_of=fold_of, dup_group_of=dup_group_of, fold_sources=fold_sources)


def drop_synthetic_near_seeds(
    synthetic: Sequence[Example], seeds: Sequence[Example], threshold: float = DUPLICATE_THRESHOLD
) -> tuple[list[Example], list[Example]]:
    """Synthetic sentences too close to a seed sentence would leak test content into training."""
    if not synthetic:
        return [], []
    sims = similarity_matrix([e.clean for e in synthetic], [e.clean for e in seeds])
    too_close = sims.max(axis=1) >= threshold
    kept = [e for e, bad in zip(synthetic, too_close, strict=True) if not bad]
    dropped = [e for e, bad in zip(synthetic, too_close, strict=True) if bad]
    return kept, dropped


@dataclass
class Corpus:
    """Everything the trainer and the evaluator need, loaded and validated once."""

    schema: Schema
    seeds: list[Example]
    synthetic: list[Example]
    dropped_synthetic: list[Example]
    plan: FoldPlan
    checksums: dict[str, str]
    articles: list[Example] = field(default_factory=list)  # team-written whole articles (seeds/corpus)
    texts: dict[str, str] = field(default_factory=dict)  # doc_id -> article text (seeds and articles)
    titles: dict[str, str] = field(default_factory=dict)  # doc_id -> headline, where known

    def with_context(self, examples: Sequence[Example], window: int, max_chars: int) -> list[Example]:
        """``examples`` with ``context`` filled from their articles (model.context); synthetic ones keep "".

        Neighbours are the annotated sentences of the same article in document order: the
        same units ``model.text.segment`` gives the service, so training and serving read alike.
        """
        from model.context import article_contexts

        by_doc: dict[str, list[Example]] = defaultdict(list)
        for e in self.seeds + self.articles:
            by_doc[e.doc_id].append(e)
        context_of: dict[str, str] = {}
        for doc_id, members in by_doc.items():
            members = sorted(members, key=lambda e: e.start)
            contexts = article_contexts(
                self.texts[doc_id],
                [(e.start, e.end) for e in members],
                [e.clean for e in members],
                title=self.titles.get(doc_id),
                window=window,
                max_chars=max_chars,
            )
            context_of.update((e.sentence_id, c) for e, c in zip(members, contexts, strict=True))
        return [replace(e, context=context_of.get(e.sentence_id, "")) for e in examples]

    @property
    def fingerprint(self) -> str:
        return data_fingerprint(self.checksums)

    def fold_splits(self) -> Iterator[tuple[str, list[int], list[int]]]:
        """(fold name, train indices, test indices) into ``self.seeds`` per fold."""
        for fold in self.plan.folds:
            test = [i for i, e in enumerate(self.seeds) if self.plan.fold_of[e.sentence_id] == fold]
            train = [i for i, e in enumerate(self.seeds) if self.plan.fold_of[e.sentence_id] != fold]
            yield fold, train, test

    def to_dataset_dict(self):
        """``DatasetDict({"seed": ..., "synthetic": ...})`` with ClassLabel targets and fold columns."""
        from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

        features = Features(
            {
                "sentence_id": Value("string"),
                "doc_id": Value("string"),
                "source": Value("string"),
                "text": Value("string"),
                "frame": ClassLabel(names=self.schema.frame_names),
                "secondary_frames": List(Value("string")),
                "attribution": ClassLabel(names=self.schema.attribution_names),
                "fold": Value("string"),
                "dup_group": Value("string"),
                "synthetic": Value("bool"),
                "voice": Value("string"),
                "sub_event": Value("string"),
            }
        )

        def rows(examples: Sequence[Example]) -> dict[str, list]:
            return {
                "sentence_id": [e.sentence_id for e in examples],
                "doc_id": [e.doc_id for e in examples],
                "source": [e.source for e in examples],
                "text": [e.clean for e in examples],
                "frame": [self.schema.frame_names.index(e.frame) for e in examples],
                "secondary_frames": [list(e.secondary_frames) for e in examples],
                "attribution": [self.schema.attribution_names.index(e.attribution) for e in examples],
                "fold": [self.plan.fold_of.get(e.sentence_id, "train-only") for e in examples],
                "dup_group": [self.plan.dup_group_of.get(e.sentence_id, e.sentence_id) for e in examples],
                "synthetic": [e.synthetic for e in examples],
                "voice": [e.voice for e in examples],
                "sub_event": [e.sub_event for e in examples],
            }

        return DatasetDict(
            {
                "seed": Dataset.from_dict(rows(self.seeds), features=features),
                "synthetic": Dataset.from_dict(rows(self.synthetic), features=features),
            }
        )


def load_corpus(paths: SeedPaths | None = None, *, with_synthetic: bool = True) -> Corpus:
    paths = paths or SeedPaths()
    schema = load_schema(paths.schema)
    texts: dict[str, str] = {}
    seeds = load_seed_annotations(paths.annotations, paths.articles, schema, texts)
    articles: list[Example] = []
    titles: dict[str, str] = {}
    if (paths.corpus / "annotations.jsonl").is_file():
        articles = load_seed_annotations(paths.corpus / "annotations.jsonl", paths.corpus / "articles", schema, texts)
        articles, meta = load_article_meta(paths.corpus / "articles.csv", articles)
        titles = {doc_id: row["title"] for doc_id, row in meta.items()}
        clash = sorted({e.doc_id for e in seeds} & {e.doc_id for e in articles})
        if clash:
            raise AnnotationError(f"{paths.corpus}: doc_id(s) {clash} are also seed articles; rename them")
    synthetic = load_synthetic(paths.synthetic, schema) if with_synthetic else []
    kept, dropped = drop_synthetic_near_seeds(synthetic, seeds)
    return Corpus(
        schema=schema,
        seeds=seeds,
        synthetic=kept,
        dropped_synthetic=dropped,
        plan=plan_folds(seeds),
        checksums=compute_checksums(paths),
        articles=articles,
        texts=texts,
        titles=titles,
    )
