"""Per-source framing scores: the one function the service, batch scoring and reports use.

Why probabilities rather than counts of argmax labels: a source profile should move a
little when the model is unsure, not flip; and gold labels are the special case of
one-hot probabilities, so the same formula gives the gold profile to compare against.

For a source with sentences i = 1..n, frame probabilities p_i(f) and attribution
probabilities q_i(a):

* ``frame_mean[f]``      = mean_i p_i(f)                      (expected share of frame f)
* ``slant``              = mean_i [P_i(positive side) - P_i(negative side)],
  where P_i(side) = sum of p_i(f) over the frames aligned with that side      (-1..+1)
* ``adopted_slant``      = sum_i q_i(authorial) [P_i(pos) - P_i(neg)] / sum_i q_i(authorial)
  (the same, over the sentences in the outlet's own voice)
* ``attribution_mix[s][a]`` = sum_i P_i(s) q_i(a) / sum_i P_i(s)
  (of the framing mass aligned with side s, how much the outlet adopts, attributes or
  distances)

95% confidence intervals come from a percentile bootstrap over the source's sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.schema import Schema

AUTHORIAL = "authorial"


def _ci(samples: np.ndarray) -> list[float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(finite, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def _r(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 4)


def source_profiles(
    sources: Sequence[str],
    frame_probs: np.ndarray,
    attribution_probs: np.ndarray,
    schema: Schema,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Scores per source (see module docstring for the formulas)."""
    frame_probs = np.asarray(frame_probs, dtype=float)
    attribution_probs = np.asarray(attribution_probs, dtype=float)
    if len(sources) != len(frame_probs) or len(sources) != len(attribution_probs):
        raise ValueError(
            f"sources ({len(sources)}), frame_probs ({len(frame_probs)}) and attribution_probs "
            f"({len(attribution_probs)}) must have one row per sentence"
        )
    frames, attrs = schema.frame_names, schema.attribution_names
    pos = np.array([schema.side_of(f) == schema.positive_side for f in frames], dtype=float)
    neg = np.array([schema.side_of(f) == schema.negative_side for f in frames], dtype=float)
    auth_col = attrs.index(AUTHORIAL) if AUTHORIAL in attrs else None
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    src = np.asarray(sources, dtype=object)
    for name in sorted(set(sources)):
        rows = np.flatnonzero(src == name)
        fp, ap = frame_probs[rows], attribution_probs[rows]
        n = len(rows)
        side = {schema.positive_side: fp @ pos, schema.negative_side: fp @ neg}
        lean = side[schema.positive_side] - side[schema.negative_side]
        boot = rng.integers(0, n, size=(n_boot, n))  # resampled sentence indices

        def adopted(idx: np.ndarray, ap: np.ndarray = ap, lean: np.ndarray = lean) -> np.ndarray:
            w = ap[idx, auth_col]
            with np.errstate(invalid="ignore", divide="ignore"):
                return (w * lean[idx]).sum(-1) / w.sum(-1)

        profile: dict[str, Any] = {
            "n_sentences": int(n),
            "frame_mean": {f: _r(fp[:, k].mean()) for k, f in enumerate(frames)},
            "frame_mean_ci": {f: _ci(fp[boot, k].mean(-1)) for k, f in enumerate(frames)},
            "frame_share": {f: _r((fp.argmax(1) == k).mean()) for k, f in enumerate(frames)},
            "slant": _r(lean.mean()),
            "slant_ci": _ci(lean[boot].mean(-1)),
        }
        if auth_col is not None:
            profile["adopted_slant"] = _r(float(adopted(np.arange(n)[None, :])[0]))
            profile["adopted_slant_ci"] = _ci(adopted(boot))
            profile["authorial_share"] = _r(ap[:, auth_col].mean())
        mix: dict[str, dict[str, float | None]] = {}
        for side_name, mass in side.items():
            total = mass.sum()
            mix[side_name] = {
                a: (_r((mass * ap[:, k]).sum() / total) if total > 1e-9 else None) for k, a in enumerate(attrs)
            }
            mix[side_name]["mass"] = _r(total / n)
        profile["attribution_mix"] = mix
        out[name] = profile
    return out


# ------------------------------------------------------------ flat table <-> profiles
# Why a flat form: batch scoring writes profiles as one CSV row per source (sources.csv),
# and the report reads them back. These two functions are mirror images; columns:
#   source, n_sentences, slant, slant_lo, slant_hi, adopted_slant(_lo/_hi), authorial_share,
#   frame_mean.<frame>(_lo/_hi), frame_share.<frame>, mix.<side>.<attribution>, mix.<side>.mass
def profiles_to_rows(profiles: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat dict per source, in source order (see the column list above)."""
    rows = []
    for name, p in profiles.items():
        row: dict[str, Any] = {"source": name, "n_sentences": p["n_sentences"]}
        for key in ("slant", "adopted_slant"):
            if key in p:
                row[key] = p[key]
                row[f"{key}_lo"], row[f"{key}_hi"] = p[f"{key}_ci"]
        if "authorial_share" in p:
            row["authorial_share"] = p["authorial_share"]
        for f, v in p["frame_mean"].items():
            row[f"frame_mean.{f}"] = v
            row[f"frame_mean.{f}_lo"], row[f"frame_mean.{f}_hi"] = p["frame_mean_ci"][f]
        for f, v in p["frame_share"].items():
            row[f"frame_share.{f}"] = v
        for side, mix in p["attribution_mix"].items():
            for a, v in mix.items():
                row[f"mix.{side}.{a}"] = v
        rows.append(row)
    return rows


def profiles_from_rows(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The inverse of ``profiles_to_rows`` (e.g. for rows read back from sources.csv)."""

    def num(v: Any) -> float | None:
        return None if v is None or (isinstance(v, float) and not np.isfinite(v)) or v == "" else float(v)

    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        p: dict[str, Any] = {"n_sentences": int(row["n_sentences"])}
        frames = [k.split(".", 1)[1] for k in row if k.startswith("frame_share.")]
        p["frame_mean"] = {f: num(row[f"frame_mean.{f}"]) for f in frames}
        p["frame_mean_ci"] = {f: [num(row[f"frame_mean.{f}_lo"]), num(row[f"frame_mean.{f}_hi"])] for f in frames}
        p["frame_share"] = {f: num(row[f"frame_share.{f}"]) for f in frames}
        for key in ("slant", "adopted_slant"):
            if key in row:
                p[key] = num(row[key])
                p[f"{key}_ci"] = [num(row[f"{key}_lo"]), num(row[f"{key}_hi"])]
        if "authorial_share" in row:
            p["authorial_share"] = num(row["authorial_share"])
        mix: dict[str, dict[str, float | None]] = {}
        for k, v in row.items():
            if k.startswith("mix."):
                side, a = k[4:].rsplit(".", 1)
                mix.setdefault(side, {})[a] = num(v)
        p["attribution_mix"] = mix
        out[str(row["source"])] = p
    return out
