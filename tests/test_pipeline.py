"""The whole pipeline end to end through the real CLI, with a tiny, fast setting:
data check -> leave-one-source-out evaluation -> training with the CV-chosen epochs."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from serving.cli import app

runner = CliRunner()


def test_data_command_validates_and_prints_counts():
    result = runner.invoke(app, ["data"])
    assert result.exit_code == 0, result.output
    assert "albiseyler" in result.output and "unknown-000+unknown-002" in result.output
    assert "Team-written article sentences per camp (" in " ".join(result.output.split())
    assert all(f"│ {camp} " in result.output for camp in ("AZ", "ARM", "RU", "TR", "WEST", "INTL"))


def test_evaluate_rejects_unknown_model(tmp_path):
    result = runner.invoke(app, ["evaluate", "--models", "finetuned,gpt", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown model" in result.output


@pytest.mark.slow
def test_evaluate_then_train_end_to_end(tmp_path):
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--out",
            str(out),
            "--models",
            "finetuned,majority,tfidf_lr",
            "--variants",
            "seed,seed+synthetic",
            "--epochs",
            "2",
            "--synthetic-fraction",
            "0.05",
            "--n-boot",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {
        f"{m}@{v}" for m in ("finetuned", "majority", "tfidf_lr") for v in ("seed", "seed+synthetic")
    }
    assert metrics["protocol"]["folds"]["unknown-000+unknown-002"] == ["unknown-000", "unknown-002"]
    primary = metrics["models"][metrics["primary"]]
    for task in ("frame", "attribution"):
        m = primary[task]
        assert 0 <= m["macro_f1_ci"][0] <= m["macro_f1"] <= m["macro_f1_ci"][1] <= 1
        assert sum(map(sum, m["confusion"]["matrix"])) == metrics["protocol"]["n_seed_sentences"] == 170
        assert 0 <= m["ece"] <= 1
    assert all(1 <= f["selected_epochs"] <= 2 for f in primary["per_fold"].values())
    assert set(metrics["source_profiles"]["gold"]) == {
        "albiseyler",
        "unknown-000",
        "unknown-002",
        "unknown-003",
        "unknown-004",
    }
    assert len(metrics["oof_predictions"]) == 170
    assert "| finetuned |" in (out / "summary.md").read_text()

    # leave-one-voice-out beside it takes its fixed epoch count from the source CV, not from its own test voices
    result = runner.invoke(app, ["evaluate", "--protocol", "voice", "--out", str(out), "--models", "majority"])
    assert result.exit_code == 0, result.output
    voices = json.loads((out / "voices.json").read_text())
    assert voices["config"]["epochs"] == metrics["recommended_epochs"]
    assert set(voices["voices"]) == {"AZ", "ARM", "RU", "TR", "WEST", "INTL", "FEATURE"}
    assert set(voices["models"]) == {"majority@seed", "majority@seed+other-voices"}
    assert sum(r["n"] for r in voices["models"]["majority@seed"]["per_voice"].values()) == sum(
        voices["voices"].values()
    )

    export = tmp_path / "model"
    # --no-store: the session's BentoML store must keep serving the `trained_model` fixture's model
    result = runner.invoke(
        app,
        [
            "train",
            "--cv-metrics",
            str(out / "metrics.json"),
            "--article-fraction",
            "0.05",
            "--export",
            str(export),
            "--no-store",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "chosen by nested cross-validation" in result.output
    config = json.loads((export / "training_config.json").read_text())
    assert config["epochs"] == metrics["recommended_epochs"]
    card = (export / "README.md").read_text()
    assert "Leave-one-source-out" in card and "synthetic" in card
    assert "registered" not in result.output
    from model.classifier import FramingClassifier

    assert (
        FramingClassifier.load(export).predict(["Talks were held in Yevlakh."])[0].frame
        in metrics["models"][metrics["primary"]]["frame"]["per_label"]
    )
