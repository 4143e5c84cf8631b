"""Per-source scores and evaluation metrics: the formulas the README documents."""

from __future__ import annotations

import numpy as np
import pytest

from eval.evaluate import one_hot
from eval.metrics import classification_metrics, expected_calibration_error
from model.profiles import source_profiles


def test_gold_profile_follows_the_documented_formulas(schema):
    frames = ["anti_terror", "anti_terror", "aggression", "diplomacy", "ethnic_cleansing", "background"]
    attrs = ["authorial", "attributed", "authorial", "attributed", "distanced", "authorial"]
    prof = source_profiles(
        ["s"] * 6, one_hot(frames, schema.frame_names), one_hot(attrs, schema.attribution_names), schema, n_boot=200
    )["s"]
    assert prof["n_sentences"] == 6
    assert prof["frame_mean"]["anti_terror"] == pytest.approx(2 / 6, abs=1e-4)
    # slant = share AZ (2/6) - share ARM (aggression + ethnic_cleansing = 2/6)
    assert prof["slant"] == pytest.approx(0.0, abs=1e-4)
    # authorial sentences: anti_terror (+1), aggression (-1), background (0) -> 0
    assert prof["adopted_slant"] == pytest.approx(0.0, abs=1e-4)
    mix_az, mix_arm = prof["attribution_mix"]["AZ"], prof["attribution_mix"]["ARM"]
    assert mix_az["authorial"] == pytest.approx(0.5) and mix_az["attributed"] == pytest.approx(0.5)
    assert mix_arm["authorial"] == pytest.approx(0.5) and mix_arm["distanced"] == pytest.approx(0.5)
    lo, hi = prof["slant_ci"]
    assert -1 <= lo <= prof["slant"] <= hi <= 1


def test_adopted_slant_separates_adopting_from_reporting(schema):
    # outlet A adopts the AZ frame in its own voice; outlet B only attributes it
    frames = ["anti_terror"] * 4 + ["aggression"] * 4
    attrs_a = ["authorial"] * 4 + ["attributed"] * 4
    attrs_b = ["attributed"] * 4 + ["authorial"] * 4
    fp = one_hot(frames * 2, schema.frame_names)
    ap = one_hot(attrs_a + attrs_b, schema.attribution_names)
    prof = source_profiles(["A"] * 8 + ["B"] * 8, fp, ap, schema, n_boot=100)
    assert prof["A"]["slant"] == prof["B"]["slant"] == pytest.approx(0.0)
    assert prof["A"]["adopted_slant"] == pytest.approx(1.0)
    assert prof["B"]["adopted_slant"] == pytest.approx(-1.0)


def test_profiles_reject_mismatched_rows(schema):
    with pytest.raises(ValueError, match="one row per sentence"):
        source_profiles(["a", "b"], np.ones((1, 6)) / 6, np.ones((2, 3)) / 3, schema)


def test_metrics_of_a_perfect_and_a_wrong_model():
    labels = ["x", "y", "z"]
    gold = ["x", "y", "z", "x"]
    perfect = classification_metrics(gold, one_hot(gold, labels), labels, n_boot=50)
    assert perfect["macro_f1"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["ece"] == 0.0
    assert perfect["confusion"]["matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 1]]
    wrong = classification_metrics(gold, one_hot(["y", "z", "x", "y"], labels), labels, n_boot=50)
    assert wrong["macro_f1"] == 0.0 and wrong["ece"] == pytest.approx(1.0)
    assert wrong["per_label"]["x"]["support"] == 2
    lo, hi = perfect["macro_f1_ci"]
    assert lo <= 1.0 <= hi + 1e-9


def test_ece_of_calibrated_predictions_is_small():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, 4000)
    correct = rng.uniform(size=4000) < conf
    proba = np.stack([conf, 1 - conf], 1)
    y = np.where(correct, 0, 1)
    assert expected_calibration_error(proba, y) < 0.03


def test_flat_rows_round_trip_through_csv(schema, tmp_path):
    import pandas as pd

    from model.profiles import profiles_from_rows, profiles_to_rows

    rng = np.random.default_rng(0)
    fp = rng.dirichlet(np.ones(len(schema.frame_names)), size=12)
    ap = rng.dirichlet(np.ones(len(schema.attribution_names)), size=12)
    prof = source_profiles(["a"] * 5 + ["b, the outlet"] * 7, fp, ap, schema, n_boot=50)
    rows = profiles_to_rows(prof)
    assert [r["source"] for r in rows] == ["a", "b, the outlet"]
    assert "frame_mean.anti_terror_lo" in rows[0] and "mix.AZ.authorial" in rows[0]
    pd.DataFrame(rows).to_csv(tmp_path / "sources.csv", index=False)
    back = profiles_from_rows(pd.read_csv(tmp_path / "sources.csv", keep_default_na=False).to_dict("records"))
    assert back.keys() == prof.keys()
    for name in prof:
        assert back[name]["slant_ci"] == pytest.approx(prof[name]["slant_ci"])
        assert back[name]["frame_mean"] == pytest.approx(prof[name]["frame_mean"])
        assert back[name]["attribution_mix"]["ARM"] == pytest.approx(prof[name]["attribution_mix"]["ARM"])
