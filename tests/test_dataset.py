"""Corpus, leak-free folds, synthetic filtering and data checksums (training/dataset.py)."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from model.text import normalise
from training.annotations import Example
from training.dataset import (
    DUPLICATE_THRESHOLD,
    Corpus,
    SeedPaths,
    compute_checksums,
    data_fingerprint,
    drop_synthetic_near_seeds,
    load_corpus,
    plan_folds,
    read_checksums,
    similarity_matrix,
    write_checksums,
)

SOURCES = ["albiseyler", "unknown-000", "unknown-002", "unknown-003", "unknown-004"]


@pytest.fixture(scope="module")
def seed_corpus() -> Corpus:
    return load_corpus(with_synthetic=False)


@pytest.fixture(scope="module")
def full_corpus() -> Corpus:
    return load_corpus(with_synthetic=True)


def example(sid: str, source: str, text: str) -> Example:
    return Example(
        sentence_id=sid,
        doc_id=f"doc-{source}",
        source=source,
        text=text,
        clean=normalise(text),
        frame="background",
        secondary_frames=(),
        attribution="authorial",
    )


# --------------------------------------------------------------------------- similarity


def test_similarity_matrix_basics():
    texts = ["Azerbaijan launched an operation.", "AZERBAIJAN LAUNCHED AN OPERATION.", "Grain prices were unchanged."]
    sims = similarity_matrix(texts)
    assert sims.shape == (3, 3)
    assert np.allclose(sims, sims.T)
    assert np.allclose(np.diag(sims), 1.0)
    assert sims[0, 1] == pytest.approx(1.0)  # case-insensitive
    assert sims[0, 2] < DUPLICATE_THRESHOLD
    cross = similarity_matrix(texts[:1], texts[1:])
    assert cross.shape == (1, 2)
    assert cross[0, 0] == pytest.approx(1.0) and cross[0, 1] < DUPLICATE_THRESHOLD


# --------------------------------------------------------------------------- seed folds


def test_corpus_without_synthetic(seed_corpus):
    assert len(seed_corpus.seeds) == 170
    assert seed_corpus.synthetic == [] and seed_corpus.dropped_synthetic == []
    assert {e.source for e in seed_corpus.seeds} == set(SOURCES)


def test_near_copies_000_and_002_share_one_fold(seed_corpus):
    plan = seed_corpus.plan
    folds_000 = {plan.fold_of[e.sentence_id] for e in seed_corpus.seeds if e.doc_id.startswith("000_")}
    folds_002 = {plan.fold_of[e.sentence_id] for e in seed_corpus.seeds if e.doc_id.startswith("002_")}
    assert folds_000 == folds_002
    assert len(folds_000) == 1
    (fold,) = folds_000
    assert sorted(plan.fold_sources[fold]) == ["unknown-000", "unknown-002"]


def test_fold_sources(seed_corpus):
    """000+002 are one report; the other outlets only share quotes and stay separate folds."""
    assert seed_corpus.plan.fold_sources == {
        "albiseyler": ["albiseyler"],
        "unknown-000+unknown-002": ["unknown-000", "unknown-002"],
        "unknown-003": ["unknown-003"],
        "unknown-004": ["unknown-004"],
    }
    assert seed_corpus.plan.folds == sorted(seed_corpus.plan.fold_sources)
    merged = [s for sources in seed_corpus.plan.fold_sources.values() for s in sources]
    assert sorted(merged) == SOURCES, "every source is in exactly one fold"


def test_no_duplicate_group_split_across_folds(seed_corpus):
    plan = seed_corpus.plan
    folds_of_group: dict[str, set[str]] = defaultdict(set)
    for sid, group in plan.dup_group_of.items():
        folds_of_group[group].add(plan.fold_of[sid])
    split = {g: f for g, f in folds_of_group.items() if len(f) > 1}
    assert not split, f"duplicate groups split across folds: {split}"
    assert any(n > 1 for n in Counter(plan.dup_group_of.values()).values()), "precondition: seeds share quotes"


def test_duplicate_groups_are_really_near_duplicates(seed_corpus):
    """Every pair at or above the threshold is in the same duplicate group."""
    seeds = seed_corpus.seeds
    sims = similarity_matrix([e.clean for e in seeds])
    group = seed_corpus.plan.dup_group_of
    for i, j in zip(*np.nonzero(sims >= DUPLICATE_THRESHOLD), strict=True):
        assert group[seeds[i].sentence_id] == group[seeds[j].sentence_id]


def test_folds_leak_nothing(seed_corpus):
    """For every fold, no test sentence has a training twin at or above the threshold."""
    seeds = seed_corpus.seeds
    checked = 0
    for fold, train, test in seed_corpus.fold_splits():
        assert train and test, fold
        sims = similarity_matrix([seeds[i].clean for i in test], [seeds[i].clean for i in train])
        worst = np.unravel_index(int(sims.argmax()), sims.shape)
        assert sims.max() < DUPLICATE_THRESHOLD, (
            f"fold {fold}: test {seeds[test[worst[0]]].sentence_id} ~ train {seeds[train[worst[1]]].sentence_id} "
            f"= {sims.max():.3f}"
        )
        checked += 1
    assert checked == len(seed_corpus.plan.folds) == 4


def test_every_seed_sentence_tested_in_exactly_one_fold(seed_corpus):
    n = len(seed_corpus.seeds)
    tested = Counter()
    for _fold, train, test in seed_corpus.fold_splits():
        assert set(train).isdisjoint(test)
        assert sorted(train + test) == list(range(n))
        tested.update(test)
    assert sorted(tested) == list(range(n))
    assert set(tested.values()) == {1}
    assert set(seed_corpus.plan.fold_of) == {e.sentence_id for e in seed_corpus.seeds}


def test_dataset_dict(seed_corpus, schema):
    from datasets import ClassLabel, DatasetDict

    dd = seed_corpus.to_dataset_dict()
    assert isinstance(dd, DatasetDict)
    assert set(dd) == {"seed", "synthetic"}
    for split in dd.values():
        assert isinstance(split.features["frame"], ClassLabel)
        assert split.features["frame"].names == schema.frame_names
        assert isinstance(split.features["attribution"], ClassLabel)
        assert split.features["attribution"].names == schema.attribution_names
    seed = dd["seed"]
    assert seed.num_rows == 170 and dd["synthetic"].num_rows == 0
    assert seed["sentence_id"] == [e.sentence_id for e in seed_corpus.seeds]
    assert seed["text"] == [e.clean for e in seed_corpus.seeds]
    assert [seed.features["frame"].int2str(i) for i in seed["frame"]] == [e.frame for e in seed_corpus.seeds]
    assert [seed.features["attribution"].int2str(i) for i in seed["attribution"]] == [
        e.attribution for e in seed_corpus.seeds
    ]
    assert seed["fold"] == [seed_corpus.plan.fold_of[e.sentence_id] for e in seed_corpus.seeds]
    assert seed["dup_group"] == [seed_corpus.plan.dup_group_of[e.sentence_id] for e in seed_corpus.seeds]
    assert not any(seed["synthetic"])


# --------------------------------------------------------------------------- with synthetic


def test_synthetic_never_near_a_seed(full_corpus):
    assert full_corpus.synthetic, "precondition: synthetic data loaded"
    sims = similarity_matrix([e.clean for e in full_corpus.synthetic], [e.clean for e in full_corpus.seeds])
    worst = np.unravel_index(int(sims.argmax()), sims.shape)
    assert sims.max() < DUPLICATE_THRESHOLD, (
        f"synthetic {full_corpus.synthetic[worst[0]].sentence_id} ~ seed {full_corpus.seeds[worst[1]].sentence_id} "
        f"= {sims.max():.3f}"
    )


def test_dropped_synthetic_really_were_near_seeds(full_corpus):
    everything = full_corpus.synthetic + full_corpus.dropped_synthetic
    sims = similarity_matrix([e.clean for e in everything], [e.clean for e in full_corpus.seeds]).max(axis=1)
    kept = len(full_corpus.synthetic)
    assert (sims[:kept] < DUPLICATE_THRESHOLD).all()
    assert (sims[kept:] >= DUPLICATE_THRESHOLD).all()


def test_every_synthetic_example_is_marked_and_train_only(full_corpus, schema):
    assert all(e.synthetic is True for e in full_corpus.synthetic)
    assert all(e.synthetic is False for e in full_corpus.seeds)
    assert not {e.sentence_id for e in full_corpus.synthetic} & set(full_corpus.plan.fold_of)
    dd = full_corpus.to_dataset_dict()
    assert dd["synthetic"].num_rows == len(full_corpus.synthetic) > 0
    assert all(dd["synthetic"]["synthetic"])
    assert not any(dd["seed"]["synthetic"])
    assert set(dd["synthetic"]["fold"]) == {"train-only"}
    assert dd["synthetic"].features["frame"].names == schema.frame_names


def test_synthetic_does_not_change_folds(seed_corpus, full_corpus):
    assert full_corpus.plan == seed_corpus.plan


# --------------------------------------------------------------------------- constructed fold cases

REPORT_A = [
    "Azerbaijan launched a military operation in Karabakh on Tuesday morning.",
    "Air raid sirens and mortar fire were heard in the regional capital.",
    "Officials said five people were killed, including two children.",
    "Russian peacekeepers evacuated hundreds of civilians from nearby villages.",
]
REPORT_B = [  # the same report, reworded
    "On Tuesday morning Azerbaijan launched a military operation in Karabakh.",
    "Mortar fire and air raid sirens were heard in the regional capital.",
    "Five people were killed, including two children, officials said.",
    "Hundreds of civilians were evacuated from nearby villages by Russian peacekeepers.",
]
OUTLET_C = [
    "The European Union called for an immediate return to negotiations.",
    "Protesters gathered outside the parliament building in Yerevan.",
    "“This military escalation must not become a pretext for the exodus of the local population,” Borrell said.",
    "Grain prices on world markets were little changed this week.",
    "The football season opens next month with twenty clubs.",
]
OUTLET_D = [  # unrelated except one shared quotation
    "A new bridge across the river was opened by the mayor.",
    "“This military escalation must not become a pretext for the exodus of the local population,” "
    "the EU foreign policy chief said.",
    "Snow closed several mountain passes overnight.",
    "The central bank left interest rates unchanged.",
    "Tourism numbers rose sharply during the summer months.",
]


def constructed(order: str = "ABCD") -> list[Example]:
    parts = {"A": ("a", REPORT_A), "B": ("b", REPORT_B), "C": ("c", OUTLET_C), "D": ("d", OUTLET_D)}
    out = []
    for key in order:
        prefix, texts = parts[key]
        out += [example(f"{prefix}{i}", f"src{key}", t) for i, t in enumerate(texts)]
    return out


def test_constructed_near_copy_sources_are_merged():
    plan = plan_folds(constructed())
    assert plan.fold_sources == {"srcA+srcB": ["srcA", "srcB"], "srcC": ["srcC"], "srcD": ["srcD"]}
    assert {plan.fold_of[f"a{i}"] for i in range(4)} | {plan.fold_of[f"b{i}"] for i in range(4)} == {"srcA+srcB"}


def test_constructed_shared_quote_kept_in_one_fold():
    plan = plan_folds(constructed())
    assert plan.dup_group_of["c2"] == plan.dup_group_of["d1"]
    assert plan.fold_of["c2"] == plan.fold_of["d1"] == "srcC", "the group goes to the fold of its first member"
    assert {plan.fold_of[f"d{i}"] for i in (0, 2, 3, 4)} == {"srcD"}, "one shared quote does not merge outlets"
    assert {plan.fold_of[f"c{i}"] for i in range(5)} == {"srcC"}
    members: dict[str, set[str]] = defaultdict(set)
    for sid, group in plan.dup_group_of.items():
        members[group].add(sid)
    shared = sorted(sorted(m) for m in members.values() if len(m) > 1)
    assert shared == [["a0", "b0"], ["a1", "b1"], ["a2", "b2"], ["a3", "b3"], ["c2", "d1"]]


def test_constructed_shared_quote_follows_first_member():
    plan = plan_folds(constructed("ABDC"))
    assert plan.fold_of["c2"] == plan.fold_of["d1"] == "srcD"


def test_constructed_folds_leak_nothing():
    examples = constructed()
    plan = plan_folds(examples)
    for fold in plan.folds:
        test = [e.clean for e in examples if plan.fold_of[e.sentence_id] == fold]
        train = [e.clean for e in examples if plan.fold_of[e.sentence_id] != fold]
        assert similarity_matrix(test, train).max() < DUPLICATE_THRESHOLD, fold


def test_drop_synthetic_near_seeds_constructed():
    seeds = constructed()
    synthetic = [
        example("s-copy", "synthetic-AZ", "Azerbaijan launched a military operation in Karabakh on Tuesday morning!"),
        example("s-new", "synthetic-AZ", "Parliament in Baku debated the annual budget for schools."),
    ]
    kept, dropped = drop_synthetic_near_seeds(synthetic, seeds)
    assert [e.sentence_id for e in kept] == ["s-new"]
    assert [e.sentence_id for e in dropped] == ["s-copy"]
    assert drop_synthetic_near_seeds([], seeds) == ([], [])


# --------------------------------------------------------------------------- checksums


def checksum_problems(paths: SeedPaths) -> list[str]:
    """Files whose recorded checksum differs from the file now (changed, new or removed)."""
    recorded, current = read_checksums(paths), compute_checksums(paths)
    changed = sorted(n for n in recorded.keys() & current.keys() if recorded[n] != current[n])
    added = sorted(current.keys() - recorded.keys())
    removed = sorted(recorded.keys() - current.keys())
    return [f"changed: {n}" for n in changed] + [f"new: {n}" for n in added] + [f"removed: {n}" for n in removed]


def test_seed_checksums_up_to_date():
    """The committed CHECKSUMS.sha256 must describe the data files as they are now."""
    paths = SeedPaths()
    if not paths.checksums.is_file():
        pytest.fail(
            f"{paths.checksums} is missing; run `framing data --update-checksums` to record the data files' checksums"
        )
    problems = checksum_problems(paths)
    if problems:
        pytest.fail(
            "seed data differs from seeds/CHECKSUMS.sha256:\n  "
            + "\n  ".join(problems)
            + "\nIf the change is intended, run `framing data --update-checksums`."
        )
    assert read_checksums(paths) == compute_checksums(paths)


@pytest.fixture
def seed_copy(tmp_path) -> SeedPaths:
    root = tmp_path / "seeds"
    shutil.copytree(SeedPaths().root, root, ignore=shutil.ignore_patterns("CHECKSUMS.sha256"))
    return SeedPaths(root)


def test_checksums_cover_the_data_files(seed_copy):
    names = set(compute_checksums(seed_copy))
    assert {"schema.yaml", "annotations.jsonl", "sources.csv"} <= names
    assert {f"articles/{p.name}" for p in seed_copy.articles.glob("*.txt")} <= names
    assert {f"synthetic/{p.name}" for p in seed_copy.synthetic} <= names
    assert "CHECKSUMS.sha256" not in names
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in compute_checksums(seed_copy).values())


def test_write_then_read_checksums_round_trip(seed_copy):
    path = write_checksums(seed_copy)
    assert path == seed_copy.checksums and path.is_file()
    assert read_checksums(seed_copy) == compute_checksums(seed_copy)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == sorted(compute_checksums(seed_copy))
    assert "CHECKSUMS.sha256" not in read_checksums(seed_copy), "writing the file does not checksum itself"


def test_checksums_detect_a_changed_file(seed_copy):
    write_checksums(seed_copy)
    before = data_fingerprint(read_checksums(seed_copy))
    article: Path = sorted(seed_copy.articles.glob("*.txt"))[0]
    article.write_text(article.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    current = compute_checksums(seed_copy)
    recorded = read_checksums(seed_copy)
    assert [n for n in current if current[n] != recorded.get(n)] == [f"articles/{article.name}"]
    assert data_fingerprint(current) != before
    assert len(before) == 16


def test_read_checksums_missing_file_raises(seed_copy):
    with pytest.raises(FileNotFoundError):
        read_checksums(seed_copy)


def test_checksum_problems_lists_changed_new_and_removed_files(seed_copy):
    write_checksums(seed_copy)
    assert checksum_problems(seed_copy) == []
    (seed_copy.root / "sources.csv").write_text("doc_id,source\n", encoding="utf-8")
    (seed_copy.root / "synthetic" / "zz_new.jsonl").write_text("{}\n", encoding="utf-8")
    (seed_copy.root / "schema.yaml").unlink()
    assert checksum_problems(seed_copy) == [
        "changed: sources.csv",
        "new: synthetic/zz_new.jsonl",
        "removed: schema.yaml",
    ]
