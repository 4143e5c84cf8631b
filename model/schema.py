"""The label schema, loaded from data (``seeds/schema.yaml``).

Why data and not code: a user who retrains the service for another conflict edits the
YAML and the annotations; every head size, report legend and slant formula follows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "seeds" / "schema.yaml"


class SchemaError(ValueError):
    """The schema file is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    markers: tuple[str, ...] = ()
    side: str | None = None


@dataclass(frozen=True)
class Schema:
    name: str
    frames: tuple[Label, ...]
    attributions: tuple[Label, ...]
    positive_side: str
    negative_side: str
    side_labels: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def frame_names(self) -> list[str]:
        return [label.name for label in self.frames]

    @property
    def attribution_names(self) -> list[str]:
        return [label.name for label in self.attributions]

    @property
    def sides(self) -> list[str]:
        return [self.positive_side, self.negative_side]

    def side_of(self, frame: str) -> str | None:
        for label in self.frames:
            if label.name == frame:
                return label.side
        raise KeyError(f"unknown frame {frame!r}; the schema has {self.frame_names}")

    def to_dict(self) -> dict[str, Any]:
        """The YAML layout, so ``Schema.from_dict(s.to_dict()) == s``."""

        def label(lab: Label, with_side: bool) -> dict[str, Any]:
            d = asdict(lab)
            d["markers"] = list(lab.markers)
            if not with_side:
                d.pop("side")
            return d

        return {
            "name": self.name,
            "description": self.description,
            "sides": {
                "positive": self.positive_side,
                "negative": self.negative_side,
                "labels": dict(self.side_labels),
            },
            "frames": [label(f, True) for f in self.frames],
            "attributions": [label(a, False) for a in self.attributions],
        }

    @classmethod
    def from_dict(cls, data: Any, origin: str = "<schema>") -> Schema:
        def fail(msg: str) -> SchemaError:
            return SchemaError(f"{origin}: {msg}")

        if not isinstance(data, dict):
            raise fail(f"expected a mapping at the top level, found {type(data).__name__}")
        for key in ("name", "sides", "frames", "attributions"):
            if key not in data:
                raise fail(f"missing required key {key!r}")
        sides = data["sides"]
        if not isinstance(sides, dict) or not {"positive", "negative"} <= set(sides):
            raise fail("'sides' must be a mapping with 'positive' and 'negative' side names")
        positive, negative = str(sides["positive"]), str(sides["negative"])
        if positive == negative:
            raise fail(f"'sides.positive' and 'sides.negative' are both {positive!r}")

        def labels(key: str, with_side: bool) -> tuple[Label, ...]:
            items = data[key]
            if not isinstance(items, list) or len(items) < 2:
                raise fail(f"'{key}' must be a list of at least two labels")
            out: list[Label] = []
            for i, item in enumerate(items):
                where = f"{key}[{i}]"
                if not isinstance(item, dict) or not item.get("name"):
                    raise fail(f"{where} needs a 'name'")
                name = str(item["name"])
                if not name.replace("_", "").isalnum():
                    raise fail(f"{where}: name {name!r} must be letters, digits and '_'")
                if not str(item.get("description") or "").strip():
                    raise fail(f"{where} ({name}) needs a 'description'")
                side = item.get("side") if with_side else None
                if with_side and side is not None and side not in (positive, negative):
                    raise fail(f"{where} ({name}): side {side!r} is not one of {[positive, negative]} or null")
                markers = item.get("markers") or []
                if not isinstance(markers, list):
                    raise fail(f"{where} ({name}): 'markers' must be a list")
                out.append(Label(name, str(item["description"]).strip(), tuple(map(str, markers)), side))
            names = [lab.name for lab in out]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise fail(f"'{key}' repeats label(s) {dupes}")
            return tuple(out)

        frames = labels("frames", True)
        if not any(f.side == positive for f in frames) or not any(f.side == negative for f in frames):
            raise fail(f"at least one frame must have side {positive!r} and one side {negative!r}")
        return cls(
            name=str(data["name"]),
            description=str(data.get("description") or "").strip(),
            frames=frames,
            attributions=labels("attributions", False),
            positive_side=positive,
            negative_side=negative,
            side_labels={str(k): str(v) for k, v in (sides.get("labels") or {}).items()},
        )


def load_schema(path: Path | str = DEFAULT_SCHEMA_PATH) -> Schema:
    """Read and validate a schema YAML (or JSON, which is YAML) file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"{path}: schema file not found; pass --schema or restore seeds/schema.yaml") from None
    except yaml.YAMLError as exc:
        raise SchemaError(f"{path}: not valid YAML: {exc}") from None
    return Schema.from_dict(data, origin=str(path))
