"""The classifier: save -> load -> predict round trip, bucketing, store registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from model.classifier import (
    CARD_FILE,
    CONFIG_FILE,
    SCHEMA_FILE,
    WEIGHTS_FILE,
    FramingClassifier,
    ModelLoadError,
    length_buckets,
    resolve_encoder,
)

SENTENCES = [
    "Baku launched a so-called anti-terrorist operation in Karabakh.",
    "Armenia said Azerbaijan's goal was genocide by starvation.",
    "The UN Secretary-General called for an immediate cessation of hostilities.",
    "Approximately 120,000 ethnic Armenians live in the enclave.",
    "Short headline",
]


def test_length_buckets_group_similar_lengths_and_cover_every_index():
    lengths = [50, 3, 48, 4, 5, 49, 2]
    batches = length_buckets(lengths, batch_size=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert [sorted(lengths[i] for i in b) for b in batches] == [[2, 3, 4], [5, 48, 49], [50]]


def test_unknown_encoder_path_is_a_clear_error(schema, tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"config\.json"):
        resolve_encoder(str(empty))
    with pytest.raises(ModelLoadError, match="cannot load encoder"):
        FramingClassifier.from_encoder("no-such-org/no-such-model-xyz", schema)


def test_load_rejects_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="not a saved framing model"):
        FramingClassifier.load(tmp_path)


@pytest.mark.slow
def test_save_load_predict_round_trip(trained_model, tmp_path):
    export, _tag = trained_model
    for name in (WEIGHTS_FILE, SCHEMA_FILE, CONFIG_FILE, CARD_FILE):
        assert (export / name).is_file(), name
    clf = FramingClassifier.load(export)
    before = clf.predict(SENTENCES)
    again = FramingClassifier.load(clf.save(tmp_path / "copy", card="card"))
    after = again.predict(SENTENCES)
    assert [p.frame for p in before] == [p.frame for p in after]
    for p, q in zip(before, after, strict=True):
        assert set(p.frame_scores) == set(clf.schema.frame_names)
        assert set(p.attribution_scores) == set(clf.schema.attribution_names)
        assert sum(p.frame_scores.values()) == pytest.approx(1.0, abs=1e-4)
        for k in p.frame_scores:
            assert p.frame_scores[k] == pytest.approx(q.frame_scores[k], abs=1e-5)
    # labels are names from the schema, not indices
    assert all(p.frame in clf.schema.frame_names for p in before)
    assert json.loads((export / CONFIG_FILE).read_text())["epochs"] == 1


@pytest.mark.slow
def test_bucketed_prediction_matches_one_by_one(trained_model):
    clf = FramingClassifier.load(trained_model[0])
    batched, _ = clf.predict_proba(SENTENCES, batch_size=2)
    single = torch.cat([clf.predict_proba([s])[0] for s in SENTENCES])
    assert torch.allclose(batched, single, atol=1e-4)
    empty_f, empty_a = clf.predict_proba([])
    assert empty_f.shape == (0, len(clf.schema.frame_names)) and empty_a.shape[0] == 0


@pytest.mark.slow
def test_store_holds_model_with_metadata_and_card(trained_model):
    import bentoml

    from model.store import load_from_store

    _export, tag = trained_model
    ref = bentoml.models.get(tag)
    assert ref.info.labels["schema"] == "karabakh-2023"
    meta = ref.info.metadata
    assert meta["training_config"]["epochs"] == 1
    assert meta["data_fingerprint"] and len(meta["data_checksums"]) >= 9
    assert meta["schema"]["frames"][0]["name"] == "anti_terror"
    assert "git_commit" in meta
    card = Path(ref.path) / CARD_FILE
    assert "synthetic" in card.read_text(encoding="utf-8")
    clf, resolved = load_from_store("framing-classifier:latest")
    assert resolved == tag and clf.predict(["Talks were held in Yevlakh."])[0].frame in clf.schema.frame_names
