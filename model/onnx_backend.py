"""ONNX Runtime inference for the two-head classifier: the fast CPU path.

Three ONNX backends, measured by ``make bench-inference`` against the fp32 torch model:

* ``onnx-int8`` (the default): per-token int8. Every matrix product with a weight takes
  int8 weights (one scale per output channel) and int8 activations with one scale per
  token, computed from that token alone. A sentence's answer therefore depends only on its
  own tokens, never on which other sentences share its batch, so the service (whose
  batches depend on other users' traffic), ``/score`` and ``framing score`` give the same
  article the same scores. Measured on the shipped context model: 1.8x the fp32 graph,
  3.0-3.1x ``transformers.pipeline``, 99.6-99.8% of labels equal to fp32 torch's.
* ``onnx``: the fp32 graph: the torch model's probabilities to ~1e-6.
* ``onnx-int8-guarded``: int8 first; every sentence whose top two probabilities (frame or
  attribution) lie closer than ``GUARD_MARGIN`` is recomputed by the fp32 graph.

Why not ONNX Runtime's own ``quantize_dynamic``: it scales activations per tensor, that
is per batch, so a sentence's probabilities moved (by up to 0.1 on the context model)
with its batch-mates; and it kept only 98.7% of frame labels. Static int8 (calibrated
scales, fixed per tensor) is batch-independent but kept only 92-93% (outlier tokens set
the scale for all). One scale per token has neither problem.

Why the graphs are exported with eager attention: the SDPA export carries masking ops
(``Where``, ``IsNaN``) that cost ~15% of a forward pass here; ONNX Runtime's own fusions at
load are then as fast as the offline transformer optimizer (measured: 199 against 188
sentences/s with context), so no offline fusion is run.

Why the graphs are exported when the model is saved: they are then part of the model
(they travel in the BentoML store and in ``bentoml build``), are checked against torch
once, and loading a model never runs the exporter or the quantizer.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ONNX_FILE = "model.onnx"  # fp32
INT8_FILE = "model.int8.onnx"  # per-token int8 (``quantize_int8``)
# Written into model_info.json's "onnx" entry: 'auto' takes the int8 graph only when it was
# quantized this way (older models carry a per-batch dynamic int8 graph).
INT8_SCHEME = "per-token"
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("frame_p", "attribution_p")
# Largest allowed |probability difference| between the exported graph and torch on the probe.
EXPORT_TOLERANCE = 1e-4
# Beyond this on the probe (0.05 on the shipped model), the int8 graph is kept for those who ask
# for it but not marked per-token, so 'auto' uses fp32 (an encoder the quantizer does not suit).
INT8_TOLERANCE = 0.2
PROBE = [
    "Azerbaijan launched what it called local anti-terrorist measures in Karabakh.",
    "Armenia said the offensive was aimed at the ethnic cleansing of Nagorno-Karabakh.",
    "Talks",
]


# 'onnx-int8-guarded': an int8 answer whose top two probabilities (frame or attribution) are
# closer than this is recomputed by the fp32 graph. Int8 flips only close calls (largest
# probability change measured on the context model: 0.06).
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
    """Write ``ONNX_FILE`` (fp32) and ``INT8_FILE`` (per-token int8) into ``directory``; return what was checked.

    Raises ``ExportError`` if the exporter fails (e.g. an encoder architecture it cannot
    trace) or the fp32 graph disagrees with torch beyond ``EXPORT_TOLERANCE``; neither file
    is written then.
    """
    model.eval()
    wrapped = _Probabilities(model).eval()
    probe = tokenizer(PROBE, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    directory = Path(directory)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        try:
            with warnings.catch_warnings(), torch.no_grad(), _eager_attention(model):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    wrapped,
                    (probe["input_ids"], probe["attention_mask"]),
                    str(fp32),
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
            quantize_int8(fp32, int8)
        except Exception as exc:  # the exporter raises many types; all mean "no ONNX graph"
            raise ExportError(f"ONNX export failed ({type(exc).__name__}: {exc})") from exc
        with torch.no_grad():
            want = [t.numpy() for t in wrapped(probe["input_ids"], probe["attention_mask"])]
        ids, mask = probe["input_ids"].numpy(), probe["attention_mask"].numpy()
        diffs = {}
        for name, graph in (("fp32", fp32), ("int8", int8)):
            got = OnnxRunner(graph, threads=1).run(ids, mask)
            diffs[name] = max(float(np.abs(w - g).max()) for w, g in zip(want, got, strict=True))
        if diffs["fp32"] > EXPORT_TOLERANCE:
            raise ExportError(
                f"the ONNX graph differs from torch by {diffs['fp32']:.2e} (tolerance {EXPORT_TOLERANCE})"
            )
        directory.mkdir(parents=True, exist_ok=True)
        os.replace(fp32, directory / ONNX_FILE)
        os.replace(int8, directory / INT8_FILE)
    return {
        "exported": True,
        "files": [ONNX_FILE, INT8_FILE],
        "int8_scheme": INT8_SCHEME if diffs["int8"] <= INT8_TOLERANCE else None,
        "max_abs_diff_vs_torch": diffs["fp32"],
        "int8_max_abs_diff_vs_torch_on_probe": diffs["int8"],
    }


@contextmanager
def _eager_attention(model: nn.Module) -> Iterator[None]:
    """Export with the encoder's eager attention (see the module docstring); restore its own after."""
    encoder = getattr(model, "encoder", None)
    config = getattr(encoder, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    switch = previous not in (None, "eager") and hasattr(encoder, "set_attn_implementation")
    if switch:
        encoder.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            encoder.set_attn_implementation(previous)


def quantize_int8(src: Path, dst: Path) -> int:
    """Write a per-token int8 copy of the fp32 graph ``src`` to ``dst``; return how many products it quantized.

    Each ``MatMul`` whose second input is a weight becomes: per token (row), the scale
    ``max|x| / 127``; x quantized to uint8 around a zero point of 128 (``QuantizeLinear``
    along the row axis); an exact int32 product with the int8 weights (one scale per output
    channel) fused with the channel scales (``MatMulIntegerToFloat``); times the row scale.
    Products sharing an input (query, key, value) share its quantization. The attention
    products (two activations) and the small classification heads stay fp32.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_model = onnx.load(str(src))
    graph = graph_model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes: list[Any] = []
    constants: list[Any] = []
    quantized: dict[str, tuple[str, str, str]] = {}  # input -> (uint8 rows, row scales, leading shape)

    def const(name: str, value: np.ndarray) -> str:
        constants.append(numpy_helper.from_array(value, name))
        return name

    def op(kind: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        output = output or f"q8/{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [output], name=f"q8/{len(nodes)}/{kind}", **attrs))
        return output

    one, zero = const("q8/one", np.array(1.0, np.float32)), const("q8/zero", np.array(0.0, np.float32))
    max_q, tiny = const("q8/127", np.array(127.0, np.float32)), const("q8/tiny", np.array(1e-12, np.float32))
    mid, mid_f = const("q8/128", np.array(128, np.uint8)), const("q8/128f", np.array(128.0, np.float32))
    flat = const("q8/flat", np.array([-1], np.int64))
    start, end = const("q8/start", np.array([0], np.int64)), const("q8/end", np.array([-1], np.int64))
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2:
            nodes.append(node)
            continue
        x = node.input[0]
        w = numpy_helper.to_array(weight).astype(np.float32)  # [in, out]
        if x not in quantized:
            rows = op("Reshape", [x, const(f"q8/rows{len(quantized)}", np.array([-1, w.shape[0]], np.int64))])
            low, high = (op(r, [rows], axes=[1], keepdims=1) for r in ("ReduceMin", "ReduceMax"))
            peak = op("Max", [high, op("Neg", [low])])
            scale = op("Max", [op("Div", [peak, max_q]), tiny])  # [tokens, 1]
            row_scale = op("Reshape", [scale, flat])
            zero_points = op("Cast", [op("Add", [op("Mul", [row_scale, zero]), mid_f])], to=TensorProto.UINT8)
            q = op("QuantizeLinear", [rows, row_scale, zero_points], axis=0)
            quantized[x] = (q, scale, op("Slice", [op("Shape", [x]), start, end]))
        q, scale, leading = quantized[x]
        w_scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        w_q = np.clip(np.round(w / w_scale), -127, 127).astype(np.int8)
        prefix = f"q8/{len(nodes)}"
        product = op(
            "MatMulIntegerToFloat",
            [q, const(prefix + "/int8", w_q), one, const(prefix + "/scale", w_scale.astype(np.float32)), mid],
            domain="com.microsoft",
        )
        out_shape = op("Concat", [leading, const(prefix + "/width", np.array([w.shape[1]], np.int64))], axis=0)
        op("Reshape", [op("Mul", [product, scale]), out_shape], output=node.output[0])
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    kept = [init for init in [*graph.initializer, *constants] if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if all(o.domain != "com.microsoft" for o in graph_model.opset_import):
        graph_model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(graph_model, str(dst))
    return len([n for n in nodes if n.op_type == "MatMulIntegerToFloat"])


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
