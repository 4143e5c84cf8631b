"""``framing annotate curve`` (eval/active_learning.py): the split, the statistics, a small real run and its report."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from eval.active_learning import active_learning_curve, curve_markdown, held_out_split, mean_ci
from serving.cli import app
from training.dataset import load_corpus


@pytest.fixture(scope="module")
def small_corpus():
    """The real seeds and a tenth of the team-written articles (whole articles, every camp): a quick run."""
    corpus = load_corpus(with_synthetic=False)
    docs = sorted({e.doc_id for e in corpus.articles})[::10]
    return replace(corpus, articles=[e for e in corpus.articles if e.doc_id in set(docs)])


def test_held_out_split_holds_out_whole_groups_from_every_camp(small_corpus):
    ex = small_corpus.seeds + small_corpus.articles
    groups = [f"seed:{small_corpus.plan.fold_of[e.sentence_id]}" for e in small_corpus.seeds] + [
        e.source for e in small_corpus.articles
    ]
    camps = ["SEED"] * len(small_corpus.seeds) + [e.camp for e in small_corpus.articles]
    pool, test, held = held_out_split(ex, groups, camps, 0.25, seed=0)
    assert sorted(pool + test) == list(range(len(ex))) and not set(pool) & set(test)
    assert {groups[i] for i in test} == set(held) and not {groups[i] for i in pool} & set(held)
    assert {camps[i] for i in test} == set(camps)  # every camp gives up at least one group
    assert held_out_split(ex, groups, camps, 0.25, seed=1)[2] != held  # a new split per repeat
    with pytest.raises(ValueError, match="test_share"):
        held_out_split(ex, groups, camps, 1.0, seed=0)


def test_mean_ci_is_the_t_interval():
    from scipy import stats

    values = [0.5, 0.6, 0.55, 0.7, 0.65]
    got = mean_ci(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert got["mean"] == pytest.approx(0.6, abs=1e-4)
    assert got["ci"] == pytest.approx([lo, hi], abs=1e-4)


def test_a_small_real_run_and_its_report_section(small_corpus, tmp_path):
    result = active_learning_curve(small_corpus, repeats=2, budgets=[20, 40, 80], start=20, log=lambda _m: None)
    assert result["al_schema_version"] == 1 and result["models"] == ["tfidf_lr"]
    strategies = {(p["strategy"], p["n_labelled"]) for p in result["points"]}
    assert {("uncertainty", 80), ("random", 80)} <= strategies and any(s == "all" for s, _ in strategies)
    start = [p for p in result["points"] if p["n_labelled"] == 20]
    # both strategies start from the same sentences, so their first points are equal
    by = {(p["strategy"], p["repeat"]): p["frame_macro_f1"] for p in start}
    assert by[("uncertainty", 0)] == by[("random", 0)]
    assert [p["n_labelled"] for p in result["paired"]] == [40, 80]
    assert result["findings"] and "tfidf_lr, frame" in result["findings"][0]
    md = curve_markdown(result)
    assert "| 20 |" in md and "(same start)" in md and "all (~" in md
    # the report reads it: a figure and the paired table
    from eval.report.figures import _plt, active_learning_figure
    from eval.report.render import _active_learning_markdown

    fig = active_learning_figure(_plt(), result)
    assert fig.id == "fig-active-learning" and fig.png[:8] == b"\x89PNG\r\n\x1a\n"
    lines = _active_learning_markdown(result, lambda fid: [f"![{fid}]"])
    assert "![fig-active-learning]" in lines and any("| TF-IDF" in x and "| 40 |" in x for x in lines)
    assert "Not computed" in _active_learning_markdown(None, lambda fid: [])[2]


def test_cli_rejects_bad_budgets(tmp_path):
    result = CliRunner().invoke(app, ["annotate", "curve", "--budgets", "10,x", "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "comma-separated whole numbers" in result.output
    result = CliRunner().invoke(app, ["annotate", "curve", "--budgets", "10,50", "--out", str(tmp_path / "a.json")])
    assert result.exit_code == 2 and "at least --start" in result.output
    assert not (tmp_path / "a.json").exists()
