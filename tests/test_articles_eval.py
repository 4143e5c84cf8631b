"""The whole-article protocols: leave-one-camp-out with unseen writers, and articles -> real seeds."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from serving.cli import app
from training.dataset import SeedPaths, load_corpus

runner = CliRunner()


CAMPS = ("ARM", "AZ", "WEST")


def _small_seeds(tmp_path: Path) -> Path:
    """A copy of seeds/ with one short article of each of three camps and one seed report: the real data, made small."""
    root = tmp_path / "seeds"
    shutil.copytree(SeedPaths().root, root, ignore=shutil.ignore_patterns("synthetic", "agreement"))
    with (root / "corpus" / "articles.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep: dict[str, list[str]] = {}
    for row in rows:
        if row["camp"] in CAMPS and not keep.get(row["camp"]) and int(row["n_sentences"]) <= 20:
            keep.setdefault(row["camp"], []).append(row["doc_id"])
    docs = {d for v in keep.values() for d in v}
    with (root / "corpus" / "articles.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["doc_id"] in docs)
    ann = root / "corpus" / "annotations.jsonl"
    ann.write_text("".join(line + "\n" for line in ann.read_text().splitlines() if json.loads(line)["doc_id"] in docs))
    seeds = root / "annotations.jsonl"
    seeds.write_text(
        "".join(
            line + "\n" for line in seeds.read_text().splitlines() if json.loads(line)["doc_id"][:3] in ("001", "003")
        )
    )
    return root


def test_camp_folds_hold_out_each_camp_and_its_writer():
    from eval.articles import camp_folds

    corpus = load_corpus(with_synthetic=False)
    folds = camp_folds(corpus)
    assert [c for c, _, _ in folds] == sorted({e.camp for e in corpus.articles})
    for camp, train, test in folds:
        assert {e.camp for e in test} == {camp} and camp not in {e.camp for e in train}
        assert not {e.writer for e in test} & {e.writer for e in train}
        assert len(train) + len(test) == len(corpus.articles)


def test_camp_folds_refuse_a_writer_who_wrote_for_two_camps():
    from eval.articles import camp_folds

    corpus = load_corpus(with_synthetic=False)
    first_tr = next(i for i, e in enumerate(corpus.articles) if e.camp == "TR")
    corpus.articles[first_tr] = replace(corpus.articles[first_tr], writer="writer-az")
    with pytest.raises(ValueError, match="writer-az"):
        camp_folds(corpus)


@pytest.mark.slow
def test_evaluate_protocol_camp_end_to_end(tmp_path):
    seeds = _small_seeds(tmp_path)
    out = tmp_path / "eval"
    args = ["evaluate", "--protocol", "camp", "--seeds", str(seeds), "--out", str(out), "--epochs", "1"]
    result = runner.invoke(app, [*args, "--window", "1", "--n-boot", "20"])
    assert result.exit_code == 0, result.output
    res = json.loads((out / "articles.json").read_text())
    assert res["context_window"] == 1 and res["window_choice"]["dev_camp"] is None
    assert res["writers_by_camp"]["AZ"] == ["writer-az"]
    camp, seed = res["protocols"]["camp"], res["protocols"]["seeds"]
    n_articles = res["n_article_sentences"]
    assert camp["n_test"] == n_articles and seed["n_test"] == len(load_corpus(SeedPaths(seeds)).seeds)
    expected = {"tfidf_lr", "finetuned_sentence", "finetuned_context", "ensemble_sentence", "ensemble_context"}
    for proto in (camp, seed):
        assert set(proto["models"]) == expected
        for r in proto["models"].values():
            for task in ("frame", "attribution"):
                assert 0 <= r[task]["macro_f1_ci"][0] <= r[task]["macro_f1"] <= r[task]["macro_f1_ci"][1] <= 1
    assert set(camp["models"]["finetuned_context"]["by_camp"]) == set(CAMPS)
    assert sum(g["n"] for g in camp["models"]["tfidf_lr"]["by_genre"].values()) == n_articles
    md = (out / "articles.md").read_text()
    assert "Leave-one-camp-out" in md and "real seed outlets" in md and "finetuned_context" in md
    # every fine-tuned fold is cached: a rerun trains nothing and gives the same numbers
    cached = sorted((out / "articles_cache").glob("*.npz"))
    assert len(cached) == 2 * (len(CAMPS) + 1)
    again = runner.invoke(app, [*args, "--window", "1", "--n-boot", "20"])
    assert again.exit_code == 0 and "reusing" in again.output and "epoch 1/1" not in again.output
    assert json.loads((out / "articles.json").read_text())["protocols"] == res["protocols"]


def test_a_wider_window_must_be_significantly_better_to_be_chosen():
    """The window rule's paired bootstrap: no gap for equal answers, a clear one when one window is right, one not."""
    import numpy as np

    from eval.articles import _bootstrap_gap

    corpus = load_corpus(with_synthetic=False)
    test = corpus.seeds
    names_f, names_a = corpus.schema.frame_names, corpus.schema.attribution_names
    right = (
        np.eye(len(names_f))[[names_f.index(e.frame) for e in test]],
        np.eye(len(names_a))[[names_a.index(e.attribution) for e in test]],
    )
    wrong = (np.roll(right[0], 1, axis=1), np.roll(right[1], 1, axis=1))
    assert _bootstrap_gap(test, corpus, right, right, seed=0) == [0.0, 0.0]
    low, high = _bootstrap_gap(test, corpus, right, wrong, seed=0)
    assert 0.5 < low <= high <= 1.0
