"""Training config validation and the checks that stop bad data before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.annotations import Example
from training.config import ConfigError, TrainingConfig
from training.dataset import SeedPaths
from training.train import TrainingDataError, check_training_data, class_weights


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("epochs", 0, "epochs"),
        ("epochs", 2.5, "epochs"),
        ("batch_size", -1, "batch_size"),
        ("learning_rate", 2.0, "learning_rate"),
        ("dropout", 1.0, "dropout"),
        ("class_weighting", "inverse", "class_weighting"),
        ("synthetic_fraction", 0.0, "synthetic_fraction"),
        ("seed_weight", 0, "seed_weight"),
        ("max_length", 4096, "max_length"),
        ("encoder", " ", "encoder"),
    ],
)
def test_config_names_the_bad_value(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainingConfig(**{field: value})


def test_config_round_trips_through_json(tmp_path):
    config = TrainingConfig(epochs=3, encoder="/models/x", use_synthetic=False)
    path = tmp_path / "config.json"
    config.save(path)
    assert TrainingConfig.from_file(path) == config
    path.write_text(json.dumps({"epochs": 2, "epoch": 3}))
    with pytest.raises(ConfigError, match="unknown training setting"):
        TrainingConfig.from_file(path)


def _example(frame: str, attribution: str = "authorial", i: int = 0) -> Example:
    return Example(f"s{i}", "d", "src", "t", "t", frame, (), attribution)


def test_too_few_examples_of_a_label_stops_before_training(schema):
    examples = [
        _example(f, a, i)
        for i, (f, a) in enumerate([(f, a) for f in schema.frame_names for a in schema.attribution_names])
    ]
    check_training_data(examples, schema, min_per_label=2)  # 3 of each frame, 6 of each attribution
    thin = [e for e in examples if e.frame != "ethnic_cleansing"] + [_example("ethnic_cleansing", "authorial", 99)]
    with pytest.raises(TrainingDataError, match="frame 'ethnic_cleansing': 1"):
        check_training_data(thin, schema, min_per_label=2)
    with pytest.raises(TrainingDataError, match="no training examples"):
        check_training_data([], schema, min_per_label=2)


def test_class_weights_favour_rare_labels():
    w = class_weights([0, 0, 0, 0, 1, 2, 2], 4, "balanced")
    assert w[1] > w[2] > w[0] and w[3] == 0
    assert class_weights([0, 1], 2, "none").tolist() == [1.0, 1.0]


def test_empty_annotations_file_stops_with_clear_message(tmp_path):
    from typer.testing import CliRunner

    from serving.cli import app

    seeds = tmp_path / "seeds"
    (seeds / "articles").mkdir(parents=True)
    (seeds / "annotations.jsonl").write_text("")
    (seeds / "schema.yaml").write_text(SeedPaths().schema.read_text(encoding="utf-8"))
    result = CliRunner().invoke(app, ["train", "--seeds", str(seeds), "--no-store", "--export", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "empty" in result.output and "annotations.jsonl" in result.output
    assert not (tmp_path / "m").exists()


def test_unknown_encoder_stops_before_training(tmp_path):
    from typer.testing import CliRunner

    from serving.cli import app

    result = CliRunner().invoke(
        app,
        [
            "train",
            "--encoder",
            str(tmp_path / "missing-model"),
            "--epochs",
            "1",
            "--no-store",
            "--export",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 2
    assert "encoder" in result.output


@pytest.mark.slow
def test_train_takes_epochs_and_context_window_from_the_whole_article_evaluation(tmp_path):
    """What 'make train' relies on: the measured epochs and the window chosen on a held-out camp, not a constant."""
    from typer.testing import CliRunner

    from serving.cli import app

    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "metrics.json").write_text("{}")
    (evaluation / "articles.json").write_text(json.dumps({"config": {"epochs": 1}, "context_window": 0}))
    other = Path(__file__).parent / "data" / "other_conflict"
    args = ["train", "--seeds", str(other), "--cv-metrics", str(evaluation / "metrics.json"), "--no-store"]
    result = CliRunner().invoke(app, [*args, "--export", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "context window: 0" in result.output
    saved = json.loads((tmp_path / "m" / "training_config.json").read_text())
    assert (saved["epochs"], saved["context_window"]) == (1, 0)


@pytest.mark.slow
def test_training_is_deterministic_under_a_seed():
    """Same data, same config, same seed -> the same model (bit-for-bit predictions)."""
    from training.dataset import load_corpus
    from training.train import train_classifier

    corpus = load_corpus()
    examples = list(corpus.seeds) + list(corpus.synthetic)
    config = TrainingConfig(epochs=1, synthetic_fraction=0.02, batch_size=32, seed=3)
    probe = [e.clean for e in corpus.seeds[:20]]
    runs = [train_classifier(examples, corpus.schema, config)[0].predict_proba(probe)[0] for _ in range(2)]
    assert runs[0].shape == (20, len(corpus.schema.frame_names))
    assert (runs[0] == runs[1]).all()
    other = train_classifier(examples, corpus.schema, TrainingConfig(**{**config.to_dict(), "seed": 4}))[0]
    assert not (other.predict_proba(probe)[0] == runs[0]).all()  # the seed matters


def test_seed_weight_repeats_real_sentences_only_beside_synthetic_ones():
    from training.dataset import load_corpus
    from training.train import weight_seeds

    corpus = load_corpus()
    seeds, synthetic = list(corpus.seeds[:5]), list(corpus.synthetic[:7])
    mixed = weight_seeds(seeds + synthetic, 3)
    assert len(mixed) == 3 * 5 + 7
    assert all(mixed.count(e) == 3 for e in seeds) and all(mixed.count(e) == 1 for e in synthetic)
    assert weight_seeds(seeds, 3) == seeds  # seed-only training is not changed into more epochs
    assert weight_seeds(seeds + synthetic, 1) == seeds + synthetic


@pytest.mark.slow
def test_tfidf_ensemble_travels_with_the_model_and_is_averaged_in(tmp_path):
    """ensemble_tfidf: the saved folder holds the TF-IDF heads; loading gives the mean of both models' rows."""
    import numpy as np

    from model.classifier import FramingClassifier
    from model.tfidf import TFIDF_FILE, TfidfHeads
    from training.artefact import train_final
    from training.dataset import load_corpus

    corpus = load_corpus(with_synthetic=False)
    config = TrainingConfig(epochs=1, article_fraction=0.03, batch_size=32, seed=5, ensemble_tfidf=True)
    clf, card, _ = train_final(corpus, config, progress=lambda _m: None)
    assert clf.tfidf is not None and "TF-IDF" in card
    clf.save(tmp_path / "m")
    assert (tmp_path / "m" / TFIDF_FILE).is_file()
    loaded = FramingClassifier.load(tmp_path / "m", backend="torch")
    probe = [e.clean for e in corpus.seeds[:12]]
    both_f, both_a = loaded.predict_proba(probe)
    tfidf = TfidfHeads.load(tmp_path / "m", corpus.schema)
    tf_f, tf_a = tfidf.predict_proba(probe)
    loaded.tfidf = None
    alone_f, alone_a = loaded.predict_proba(probe)
    assert np.allclose(both_f.numpy(), (alone_f.numpy() + tf_f) / 2, atol=1e-6)
    assert np.allclose(both_a.numpy(), (alone_a.numpy() + tf_a) / 2, atol=1e-6)
    assert not np.allclose(both_f.numpy(), alone_f.numpy())
