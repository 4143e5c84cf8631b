"""The learning curve: stratified subsampling, and its full-data point equals the evaluation's own numbers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.learning_curve import learning_curve, stratified_subsample
from serving.cli import app
from training.config import TrainingConfig
from training.dataset import load_corpus

ROOT = Path(__file__).resolve().parent.parent
METRICS = json.loads((ROOT / "reports/eval/metrics.json").read_text())
CURVE_PATH = ROOT / "reports/eval/learning_curve.json"


def test_stratified_subsample_keeps_every_label_and_is_deterministic() -> None:
    labels = ["a"] * 40 + ["b"] * 20 + ["c"] * 3
    picked = stratified_subsample(labels, 0.25, seed=1)
    counts = Counter(labels[i] for i in picked)
    assert counts == {"a": 10, "b": 5, "c": 1}  # the rare label keeps one example
    assert picked == sorted(set(picked)) and all(0 <= i < len(labels) for i in picked)
    assert stratified_subsample(labels, 0.25, seed=1) == picked
    assert stratified_subsample(labels, 0.25, seed=2) != picked
    assert stratified_subsample(labels, 1.0, seed=3) == list(range(len(labels)))
    with pytest.raises(ValueError, match="fraction"):
        stratified_subsample(labels, 0.0, seed=0)


@pytest.mark.slow
def test_full_fraction_reproduces_metrics_json() -> None:
    """Same folds, same runners: at 100% of the seed data the curve is the evaluation's number."""
    corpus = load_corpus(with_synthetic=False)
    config = TrainingConfig.from_dict(METRICS["config"])
    result = learning_curve(
        corpus,
        config,
        models=["majority", "tfidf_lr"],
        variants=["seed"],
        fractions=[0.5, 1.0],
        repeats=2,
        log=lambda _m: None,
    )
    summary = {(s["model"], s["fraction"]): s for s in result["summary"]}
    for model in ("majority", "tfidf_lr"):
        ref = METRICS["models"][f"{model}@seed"]
        full = summary[(model, 1.0)]
        assert full["repeats"] == 1
        assert full["frame"]["mean"] == ref["frame"]["macro_f1"]
        assert full["attribution"]["mean"] == ref["attribution"]["macro_f1"]
        half = summary[(model, 0.5)]
        assert half["repeats"] == 2
        assert half["n_train_seed_mean"] < full["n_train_seed_mean"] * 0.6
    # fewer annotated sentences cost TF-IDF quality
    assert summary[("tfidf_lr", 0.5)]["frame"]["mean"] < summary[("tfidf_lr", 1.0)]["frame"]["mean"]
    assert result["data_fingerprint"] == corpus.fingerprint


def test_committed_curve_agrees_with_metrics_json() -> None:
    """The committed curve was computed on the committed data and its full-data points match metrics.json."""
    curve = json.loads(CURVE_PATH.read_text())
    assert curve["data_fingerprint"] == METRICS["data_fingerprint"]
    assert set(curve["models"]) >= {"tfidf_lr", "minilm_lr"}
    for s in curve["summary"]:
        if s["fraction"] == 1.0:
            ref = METRICS["models"][f"{s['model']}@{s['training_data']}"]
            assert s["frame"]["mean"] == pytest.approx(ref["frame"]["macro_f1"], abs=1e-4)
            assert s["attribution"]["mean"] == pytest.approx(ref["attribution"]["macro_f1"], abs=1e-4)
        assert s["frame"]["min"] <= s["frame"]["mean"] <= s["frame"]["max"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fractions", "0.5,abc"], "comma-separated numbers"),
        (["--fractions", "0,1"], "fractions must lie in (0, 1]"),
        (["--models", "bert"], "unknown model"),
        (["--variants", "synthetic"], "variants must be among"),
    ],
)
def test_cli_rejects_bad_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["learning-curve", "--out", str(tmp_path / "c.json"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "c.json").exists()
