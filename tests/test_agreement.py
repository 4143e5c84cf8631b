"""Cohen's kappa from the real agreement files reproduces the figures the README and codebook quote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from eval.agreement import AgreementError, agreement_summary, kappa, seed_agreement
from training.dataset import SEEDS_DIR, SeedPaths


def test_real_agreement_reproduces_readme_figures() -> None:
    result = agreement_summary()
    seed, synthetic = result["seed"], result["synthetic"]
    assert seed["n"] == 70
    assert round(seed["frame"]["kappa"], 3) == 0.889
    assert round(seed["attribution"]["kappa"], 3) == 0.972
    assert round(seed["frame"]["agreement"], 3) == 0.914  # README: 91.4% agreement
    assert round(seed["attribution"]["agreement"], 3) == 0.986
    first, second = synthetic["batches"]["multivoice"], synthetic["batches"]["multivoice2"]
    assert first["n"] == 231 and second["n"] == 130
    assert round(first["frame"]["kappa"], 3) == 0.863
    assert round(first["attribution"]["kappa"], 3) == 0.817
    assert round(second["frame"]["kappa"], 3) == 0.962  # CODEBOOK.md, section 6
    assert round(second["attribution"]["kappa"], 3) == 0.960
    third = synthetic["batches"]["multivoice3"]
    assert third["n"] == 54 and round(third["frame"]["kappa"], 3) == 0.977 and third["attribution"]["kappa"] == 1.0
    assert synthetic["n"] == sum(b["n"] for b in synthetic["batches"].values())


def test_kappa_of_identical_and_of_disagreeing_labels() -> None:
    same = kappa(["a", "b", "a", "c"], ["a", "b", "a", "c"])
    assert same["kappa"] == 1.0 and same["agreement"] == 1.0 and same["disagreements"] == 0
    flipped = kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"])
    assert flipped["kappa"] < 0 and flipped["disagreements"] == 4
    with pytest.raises(AgreementError, match="equally long"):
        kappa(["a"], ["a", "b"])


def _copy_seeds(tmp_path: Path) -> Path:
    root = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR / "agreement", root / "agreement")
    return root


def test_second_pass_sentence_without_first_pass_is_named(tmp_path: Path) -> None:
    root = _copy_seeds(tmp_path)
    with (root / "agreement" / "second_pass.jsonl").open("a") as fh:
        fh.write(json.dumps({"sentence_id": "999-999", "frame": "diplomacy", "attribution": "attributed"}) + "\n")
    with pytest.raises(AgreementError, match="999-999"):
        seed_agreement(SeedPaths(root))


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    root = _copy_seeds(tmp_path)
    (root / "agreement" / "first_pass.jsonl").write_text('{"sentence_id": "000-001", "frame": "x"}\nnot json\n')
    with pytest.raises(AgreementError, match=r"first_pass\.jsonl:2: not valid JSON"):
        seed_agreement(SeedPaths(root))
