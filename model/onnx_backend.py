"""ONNX Runtime inference for the two-head classifier: the fast CPU path.

Three ONNX backends, measured by ``make bench-inference`` against the fp32 torch model:

* ``onnx`` (the default): the fp32 graph with ONNX Runtime's transformer fusions
  (attention, LayerNorm, GELU): the torch model's probabilities to ~1e-6, faster than
  torch, smaller in memory and quicker to load (no torch weights are loaded).
* ``onnx-int8``: dynamic int8 (per-channel weights): the fastest, but it changes about 1.5%
  of the frame labels, over the 1% the service may change.
* ``onnx-int8-guarded``: int8 first; every sentence whose top two probabilities (frame or
  attribution) lie closer than ``GUARD_MARGIN`` is recomputed by the fp32 graph. Int8
  only flips close calls, so this keeps the fp32 labels while most sentences take the
  int8 path.

Why int8 is not the default: dynamic quantization scales activations per batch, so a
sentence's int8 probabilities shift (measured: up to 0.2, mean 0.004) with the other
sentences in its batch. The same article would then score differently in the service
(whose batches depend on other users' traffic) and in batch scoring; fp32 does not.

Why the graphs are exported when the model is saved: they are then part of the model
(they travel in the BentoML store and in ``bentoml build``), are checked against torch
once, and loading a model never runs the exporter or the quantizer.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"  # fp32, with transformer fusions
INT8_FILE = "model.int8.onnx"  # dynamic int8, quantized from the unfused graph (faster here than from the fused one)
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("frame_p", "attribution_p")
# Largest allowed |probability difference| between the exported graph and torch on the probe.
EXPORT_TOLERANCE = 1e-4
PROBE = [
    "Azerbaijan launched what it called local anti-terrorist measures in Karabakh.",
    "Armenia said the offensive was aimed at the ethnic cleansing of Nagorno-Karabakh.",
    "Talks",
]


# 'onnx-int8-guarded': an int8 answer whose top two probabilities (frame or attribution) are
# closer than this is recomputed by the fp32 graph. Measured on the seed + synthetic
# sentences: int8 alone changes 1.5% of frame labels, almost all with a margin under 0.3;
# with the guard ~13% of sentences are recomputed and 99.9% of labels equal fp32's.
GUARD_MARGIN = 0.3


def top2_margin(probs: torch.Tensor) -> torch.Tensor:
    """Per row, the gap between the two largest probabilities (0 = a coin toss)."""
    top = probs.topk(2, dim=-1).values
    return top[:, 0] - top[:, 1]


class ExportError(RuntimeError):
    """The model could not be exported to ONNX, or the export does not match torch."""


class _Probabilities(nn.Module):
    """The exported graph: token ids -> (frame probabilities, attribution probabilities)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        frame_logits, attribution_logits = self.model(input_ids, attention_mask)
        return frame_logits.softmax(-1), attribution_logits.softmax(-1)


def default_threads() -> int:
    """Intra-op threads: ``FRAMING_THREADS`` if set, else the physical cores (hyper-threads do not help matmuls)."""
    env = os.environ.get("FRAMING_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"FRAMING_THREADS must be a positive integer, got {env!r}")
        return int(env)
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:  # pragma: no cover - psutil comes with bentoml
        return os.cpu_count() or 1


def export_onnx(model: nn.Module, tokenizer: Any, directory: Path, max_length: int) -> dict[str, Any]:
    """Write ``ONNX_FILE`` (fp32, fused) and ``INT8_FILE`` into ``directory``; return what was checked.

    Raises ``ExportError`` if the exporter fails (e.g. an encoder architecture it cannot
    trace) or the fp32 graph disagrees with torch beyond ``EXPORT_TOLERANCE``; neither file
    is written then.
    """
    model.eval()
    wrapped = _Probabilities(model).eval()
    probe = tokenizer(PROBE, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    directory = Path(directory)
    with tempfile.TemporaryDirectory() as tmp:
        raw, fused, int8 = Path(tmp) / "raw.onnx", Path(tmp) / "fused.onnx", Path(tmp) / "int8.onnx"
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapped,
                    (probe["input_ids"], probe["attention_mask"]),
                    str(raw),
                    input_names=list(INPUTS),
                    output_names=list(OUTPUTS),
                    dynamic_axes={
                        "input_ids": {0: "batch", 1: "tokens"},
                        "attention_mask": {0: "batch", 1: "tokens"},
                        "frame_p": {0: "batch"},
                        "attribution_p": {0: "batch"},
                    },
                    opset_version=17,
                    dynamo=False,
                )
            _fuse(raw, fused, model)
            quantize_int8(raw, int8)
        except Exception as exc:  # the exporter raises many types; all mean "no ONNX graph"
            raise ExportError(f"ONNX export failed ({type(exc).__name__}: {exc})") from exc
        with torch.no_grad():
            want = [t.numpy() for t in wrapped(probe["input_ids"], probe["attention_mask"])]
        ids, mask = probe["input_ids"].numpy(), probe["attention_mask"].numpy()
        diffs = {}
        for name, graph in (("fp32", fused), ("int8", int8)):
            got = OnnxRunner(graph, threads=1).run(ids, mask)
            diffs[name] = max(float(np.abs(w - g).max()) for w, g in zip(want, got, strict=True))
        if diffs["fp32"] > EXPORT_TOLERANCE:
            raise ExportError(
                f"the ONNX graph differs from torch by {diffs['fp32']:.2e} (tolerance {EXPORT_TOLERANCE})"
            )
        directory.mkdir(parents=True, exist_ok=True)
        os.replace(fused, directory / ONNX_FILE)
        os.replace(int8, directory / INT8_FILE)
    return {
        "exported": True,
        "files": [ONNX_FILE, INT8_FILE],
        "max_abs_diff_vs_torch": diffs["fp32"],
        "int8_max_abs_diff_vs_torch_on_probe": diffs["int8"],
    }


def _fuse(src: Path, dst: Path, model: nn.Module) -> None:
    """ONNX Runtime's offline transformer fusions for BERT-like encoders; a plain copy otherwise."""
    import shutil

    config = getattr(getattr(model, "encoder", None), "config", None)
    if getattr(config, "model_type", None) not in ("bert", "roberta", "xlm-roberta", "distilbert", "electra"):
        shutil.copyfile(src, dst)
        return
    from onnxruntime.transformers import optimizer

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    opt = optimizer.optimize_model(
        str(src),
        model_type="bert",
        num_heads=int(config.num_attention_heads),
        hidden_size=int(config.hidden_size),
        opt_level=1,
    )
    opt.save_model_to_file(str(dst))


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 (per-channel weights) copy of an exported graph; see the module docstring."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice about image models on the root logger
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
    return dst


class OnnxRunner:
    """One ONNX Runtime session; ``run`` takes padded id/mask arrays, returns probability arrays."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frame_p, attribution_p = self.session.run(
            list(OUTPUTS),
            {"input_ids": input_ids.astype(np.int64), "attention_mask": attention_mask.astype(np.int64)},
        )
        return frame_p, attribution_p


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
