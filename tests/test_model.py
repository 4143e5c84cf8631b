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


# --------------------------------------------------------------------------- backends
@pytest.mark.slow
def test_saved_model_carries_verified_onnx_graphs_that_give_torchs_answers(trained_model, tmp_path):
    from model.classifier import INFO_FILE
    from model.onnx_backend import INT8_FILE, INT8_SCHEME, ONNX_FILE

    export, _tag = trained_model
    assert (export / ONNX_FILE).is_file() and (export / INT8_FILE).is_file()
    info = json.loads((export / INFO_FILE).read_text())["onnx"]
    assert info["exported"] is True and info["max_abs_diff_vs_torch"] < 1e-4 and info["int8_scheme"] == INT8_SCHEME
    fast = FramingClassifier.load(export)  # 'auto' takes the per-token int8 graph when the model carries one
    fp32 = FramingClassifier.load(export, backend="onnx")
    slow = FramingClassifier.load(export, backend="torch")
    assert (fast.backend, fp32.backend, slow.backend) == ("onnx-int8", "onnx", "torch")
    many = SENTENCES * 7 + ["A much longer sentence " * 12]
    ff, fa = fp32.predict_proba(many, batch_size=4)
    sf, sa = slow.predict_proba(many, batch_size=4)
    assert torch.allclose(ff, sf, atol=1e-4) and torch.allclose(fa, sa, atol=1e-4)
    qf, qa = fast.predict_proba(many, batch_size=4)
    assert (qf - sf).abs().max() < 0.1 and (qa - sa).abs().max() < 0.1  # int8 noise, not a different model
    # ONNX inference never loads the torch weights (memory, load time) -- but saving still can
    assert fast._model is None and fp32._model is None
    again = FramingClassifier.load(fast.save(tmp_path / "resaved"), backend="onnx")
    assert torch.allclose(again.predict_proba(many)[0], ff, atol=1e-5)


@pytest.mark.slow
def test_int8_answers_do_not_depend_on_batch_mates(trained_model):
    """Per-token scales: a sentence scores the same alone, in any batch, padded to any length (the service merges
    other users' sentences into a batch, and must agree with framing score)."""
    export, _tag = trained_model
    clf = FramingClassifier.load(export, backend="onnx-int8")
    clf.tfidf = None  # the network's own probabilities
    long = "Baku said the measures were limited and aimed only at military targets, " * 4
    many = [*SENTENCES, long, "Genocide"]
    together_f, together_a = clf.predict_proba(many, batch_size=len(many))  # one batch padded to the longest
    for i, sentence in enumerate(many):
        alone_f, alone_a = clf.predict_proba([sentence], batch_size=1)
        assert torch.allclose(alone_f[0], together_f[i], atol=1e-5), sentence
        assert torch.allclose(alone_a[0], together_a[i], atol=1e-5), sentence


@pytest.mark.slow
def test_an_int8_graph_far_from_torch_is_kept_but_not_the_default(trained_model, tmp_path, monkeypatch):
    import model.onnx_backend as onnx_backend

    monkeypatch.setattr(onnx_backend, "INT8_TOLERANCE", 0.0)  # as if the quantizer did not suit this encoder
    saved = FramingClassifier.load(trained_model[0], backend="torch").save(tmp_path / "strict")
    assert json.loads((saved / "model_info.json").read_text())["onnx"]["int8_scheme"] is None
    assert FramingClassifier.load(saved).backend == "onnx"
    assert FramingClassifier.load(saved, backend="onnx-int8").backend == "onnx-int8"


@pytest.mark.slow
def test_guarded_int8_keeps_confident_int8_rows_and_recomputes_close_calls_in_fp32(trained_model):
    from model.onnx_backend import GUARD_MARGIN, top2_margin

    export, _tag = trained_model
    guarded = FramingClassifier.load(export, backend="onnx-int8-guarded")
    int8 = FramingClassifier.load(export, backend="onnx-int8")
    fp32 = FramingClassifier.load(export, backend="onnx")
    for clf in (guarded, int8, fp32):  # the guard judges the network's int8 rows, before any TF-IDF average
        clf.tfidf = None
    many = SENTENCES * 3 + ["Azerbaijan restored its sovereignty.", "Genocide", "Aid trucks entered via Lachin."]
    gf, ga = guarded.predict_proba(many)
    qf, qa = int8.predict_proba(many)
    pf, pa = fp32.predict_proba(many)
    close = (top2_margin(qf) < GUARD_MARGIN) | (top2_margin(qa) < GUARD_MARGIN)
    assert torch.allclose(gf[close], pf[close], atol=1e-6) and torch.allclose(ga[close], pa[close], atol=1e-6)
    assert torch.equal(gf[~close], qf[~close]) and torch.equal(ga[~close], qa[~close])
    assert (gf.argmax(1) == pf.argmax(1)).float().mean() >= 0.99


@pytest.mark.slow
def test_backend_is_chosen_by_environment_and_int8_gives_distributions(trained_model, monkeypatch):
    export, _tag = trained_model
    monkeypatch.setenv("FRAMING_BACKEND", "torch")
    assert FramingClassifier.load(export).backend == "torch"
    monkeypatch.setenv("FRAMING_BACKEND", "onnx-int8")
    q = FramingClassifier.load(export)
    assert q.backend == "onnx-int8"
    f, a = q.predict_proba(SENTENCES)
    assert torch.allclose(f.sum(1), torch.ones(len(SENTENCES)), atol=1e-4)
    assert torch.allclose(a.sum(1), torch.ones(len(SENTENCES)), atol=1e-4)
    # a replica given its share of the cores (the Ray engine) runs ONNX Runtime on exactly that many threads
    one = FramingClassifier.load(export, backend="onnx", threads=1)
    assert one.runner.session.get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("FRAMING_BACKEND", "tensorrt")
    with pytest.raises(ModelLoadError, match=r"unknown backend 'tensorrt'.*onnx"):
        FramingClassifier.load(export)


@pytest.mark.slow
def test_model_without_graphs_falls_back_to_torch_but_refuses_an_explicit_onnx(trained_model, tmp_path):
    import shutil

    from model.classifier import INFO_FILE
    from model.onnx_backend import INT8_FILE, ONNX_FILE

    copy = shutil.copytree(trained_model[0], tmp_path / "old-model")
    info = json.loads((copy / INFO_FILE).read_text())
    del info["onnx"]["int8_scheme"]  # an older model: its int8 graph was scaled per batch, so 'auto' passes it by
    (copy / INFO_FILE).write_text(json.dumps(info))
    assert FramingClassifier.load(copy).backend == "onnx"
    assert FramingClassifier.load(copy, backend="onnx-int8").backend == "onnx-int8"  # still there when asked for
    (copy / INT8_FILE).unlink()
    assert FramingClassifier.load(copy).backend == "onnx"  # the fp32 graph is enough for the default
    with pytest.raises(ModelLoadError, match=r"model\.int8\.onnx.*lacks.*framing train.*'torch'"):
        FramingClassifier.load(copy, backend="onnx-int8-guarded")
    (copy / ONNX_FILE).unlink()
    assert FramingClassifier.load(copy).backend == "torch"
    with pytest.raises(ModelLoadError, match=r"model\.onnx.*lacks"):
        FramingClassifier.load(copy, backend="onnx")


def test_threads_setting_is_validated(monkeypatch):
    from model.onnx_backend import default_threads

    monkeypatch.setenv("FRAMING_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("FRAMING_THREADS", "many")
    with pytest.raises(ValueError, match="FRAMING_THREADS must be a positive integer, got 'many'"):
        default_threads()
