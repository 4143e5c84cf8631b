"""The label schema (model/schema.py) and the real seeds/schema.yaml."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from model.schema import DEFAULT_SCHEMA_PATH, Label, Schema, SchemaError, load_schema
from training.dataset import SeedPaths

FRAMES = ["anti_terror", "aggression", "ethnic_cleansing", "humanitarian", "diplomacy", "background"]
ATTRIBUTIONS = ["authorial", "attributed", "distanced"]


# --------------------------------------------------------------------------- the real schema


def test_default_path_is_the_seed_schema():
    assert DEFAULT_SCHEMA_PATH.resolve() == SeedPaths().schema.resolve()
    assert load_schema() == load_schema(SeedPaths().schema)


def test_real_schema_labels(schema):
    assert schema.name == "karabakh-2023"
    assert schema.frame_names == FRAMES
    assert len(schema.frames) == 6
    assert schema.attribution_names == ATTRIBUTIONS
    assert len(schema.attributions) == 3
    assert schema.positive_side == "AZ"
    assert schema.negative_side == "ARM"
    assert schema.sides == ["AZ", "ARM"]
    assert set(schema.side_labels) == {"AZ", "ARM"}
    assert schema.description


def test_real_schema_labels_are_documented(schema):
    for label in (*schema.frames, *schema.attributions):
        assert isinstance(label, Label)
        assert label.description.strip(), label.name
        assert label.markers, f"{label.name} has no markers"
    for label in schema.attributions:
        assert label.side is None


@pytest.mark.parametrize(
    ("frame", "side"),
    [
        ("anti_terror", "AZ"),
        ("aggression", "ARM"),
        ("ethnic_cleansing", "ARM"),
        ("humanitarian", None),
        ("diplomacy", None),
        ("background", None),
    ],
)
def test_side_of(schema, frame, side):
    assert schema.side_of(frame) == side


def test_side_of_unknown_frame_raises(schema):
    with pytest.raises(KeyError, match="no_such_frame"):
        schema.side_of("no_such_frame")


def test_to_dict_from_dict_round_trip(schema):
    data = schema.to_dict()
    assert set(data) == {"name", "description", "sides", "frames", "attributions"}
    assert data["sides"]["positive"] == "AZ" and data["sides"]["negative"] == "ARM"
    assert [f["name"] for f in data["frames"]] == FRAMES
    assert all("side" not in a for a in data["attributions"])
    assert Schema.from_dict(data) == schema


def test_round_trip_through_a_yaml_file(schema, tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(schema.to_dict(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert load_schema(path) == schema


def test_json_schema_file_loads(schema, tmp_path):
    import json

    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema.to_dict()), encoding="utf-8")
    assert load_schema(path) == schema


def test_schema_error_is_a_value_error():
    assert issubclass(SchemaError, ValueError)


# --------------------------------------------------------------------------- bad schemas


@pytest.fixture
def good(schema) -> dict[str, Any]:
    return copy.deepcopy(schema.to_dict())


def write(tmp_path: Path, data: Any, name: str = "bad_schema.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    message = str(info.value)
    assert str(path) in message, f"message does not name the file: {message}"
    return message


@pytest.mark.parametrize("key", ["name", "sides", "frames", "attributions"])
def test_missing_key(good, tmp_path, key):
    del good[key]
    message = load_error(write(tmp_path, good))
    assert "missing" in message and repr(key) in message


def test_duplicate_frame_label(good, tmp_path):
    good["frames"].append(copy.deepcopy(good["frames"][1]))  # a second 'aggression'
    message = load_error(write(tmp_path, good))
    assert "frames" in message and "aggression" in message and "repeats" in message


def test_duplicate_attribution_label(good, tmp_path):
    good["attributions"][2]["name"] = "authorial"
    message = load_error(write(tmp_path, good))
    assert "attributions" in message and "authorial" in message


def test_frame_side_not_in_sides(good, tmp_path):
    good["frames"][0]["side"] = "RU"
    message = load_error(write(tmp_path, good))
    assert "frames[0]" in message and "anti_terror" in message and "'RU'" in message


def test_no_arm_side_frame(good, tmp_path):
    for frame in good["frames"]:
        if frame["side"] == "ARM":
            frame["side"] = None
    message = load_error(write(tmp_path, good))
    assert "'ARM'" in message and "side" in message


def test_no_az_side_frame(good, tmp_path):
    for frame in good["frames"]:
        if frame["side"] == "AZ":
            frame["side"] = None
    message = load_error(write(tmp_path, good))
    assert "'AZ'" in message and "side" in message


def test_same_positive_and_negative_side(good, tmp_path):
    good["sides"]["negative"] = "AZ"
    message = load_error(write(tmp_path, good))
    assert "sides.positive" in message and "sides.negative" in message


def test_sides_without_negative(good, tmp_path):
    del good["sides"]["negative"]
    message = load_error(write(tmp_path, good))
    assert "'sides'" in message and "negative" in message


def test_frame_without_description(good, tmp_path):
    good["frames"][3]["description"] = "  "
    message = load_error(write(tmp_path, good))
    assert "frames[3]" in message and "humanitarian" in message and "description" in message


def test_frame_without_name(good, tmp_path):
    del good["frames"][2]["name"]
    message = load_error(write(tmp_path, good))
    assert "frames[2]" in message and "name" in message


def test_label_name_with_bad_characters(good, tmp_path):
    good["attributions"][0]["name"] = "author-ial"
    message = load_error(write(tmp_path, good))
    assert "attributions[0]" in message and "author-ial" in message


def test_markers_not_a_list(good, tmp_path):
    good["frames"][0]["markers"] = "anti-terror"
    message = load_error(write(tmp_path, good))
    assert "frames[0]" in message and "markers" in message


def test_single_attribution(good, tmp_path):
    good["attributions"] = good["attributions"][:1]
    message = load_error(write(tmp_path, good))
    assert "'attributions'" in message and "at least two" in message


def test_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: karabakh\nframes: [anti_terror, {name: \n  - : : [\n", encoding="utf-8")
    message = load_error(path)
    assert "not valid YAML" in message


@pytest.mark.parametrize(("content", "found"), [("- a\n- b\n", "list"), ("just a string\n", "str"), ("", "NoneType")])
def test_top_level_not_a_mapping(tmp_path, content, found):
    path = tmp_path / "flat.yaml"
    path.write_text(content, encoding="utf-8")
    message = load_error(path)
    assert "mapping" in message and found in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "schema.yaml"
    message = load_error(path)
    assert "not found" in message


def test_from_dict_names_origin(good):
    del good["frames"]
    with pytest.raises(SchemaError, match=r"^my-origin: missing required key 'frames'"):
        Schema.from_dict(good, origin="my-origin")
