"""Drive a running Label Studio through label-studio-sdk, as the annotation test needs it.

Why a separate script: label-studio-sdk pins opencv (and so numpy < 2.3), which would change
the project's own numerics if it were installed in ``.venv``. It lives in Label Studio's own
environment (``make labelstudio`` -> ``.venv-labelstudio``), and the test runs this file with
that environment's Python: ``.venv-labelstudio/bin/python tests/labelstudio_driver.py ...``.
It is not a test module (pytest does not collect it) and imports nothing of the project.

Subcommands (each prints one JSON line of counts on stdout; every error exits non-zero):

* ``roundtrip``: create a project from ``--config``, import ``--tasks``, sign up the other
  annotators through the signup form (open-source Label Studio has no API to create a user
  with a password), submit every annotator's labels through the API as that annotator, and
  write a snapshot JSON export with full predictions and annotators' e-mails to ``--out``.
* ``predictions``: create a project, import tasks that carry pre-annotations and write the
  snapshot export to ``--out`` (the test checks the predictions came through).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any


def _client(url: str, token: str) -> Any:
    from label_studio_sdk import LabelStudio

    return LabelStudio(base_url=url, api_key=token, timeout=120)


def signup(url: str, email: str, password: str) -> str:
    """Create a user through the public signup form (session + CSRF); return their legacy API token."""
    import httpx

    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as c:
        c.get("/user/signup/").raise_for_status()
        csrf = c.cookies.get("csrftoken")
        if not csrf:
            raise RuntimeError("no csrftoken cookie from /user/signup/")
        r = c.post(
            "/user/signup/",
            data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{url}/user/signup/"},
        )
        if r.status_code != 302:  # 200 = the form came back with errors
            errors = re.findall(r'class="[^"]*error[^"]*"[^>]*>([^<]+)<', r.text)
            raise RuntimeError(f"signup of {email} failed: HTTP {r.status_code} {errors[:5]}")
        r = c.get("/api/current-user/token")
        r.raise_for_status()
        return str(r.json()["token"])


def _project(client: Any, title: str, config: str) -> Any:
    # maximum_annotations=2: two annotators may label the same task (agreement needs the overlap)
    return client.projects.create(title=title, label_config=config, maximum_annotations=2, show_collab_predictions=True)


def _import(client: Any, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
    result = client.projects.import_tasks(id=project_id, request=tasks, return_task_ids=True)
    ids = list(result.task_ids or [])
    if len(ids) != len(tasks):
        raise RuntimeError(f"imported {len(ids)} task ids for {len(tasks)} tasks")
    return ids


def _snapshot(client: Any, project_id: int, out: Path) -> list[dict[str, Any]]:
    """A snapshot export: every task, predictions in full, annotators as {id, email} (the easy export gives ids)."""
    from label_studio_sdk.types import (
        LseTaskFilterOptionsRequest,
        SerializationOptionRequest,
        SerializationOptionsRequest,
    )

    snap = client.projects.exports.create(
        project_id,
        title="framing annotate test",
        task_filter_options=LseTaskFilterOptionsRequest(only_with_annotations=False),
        serialization_options=SerializationOptionsRequest(
            predictions=SerializationOptionRequest(only_id=False),
            annotations_completed_by=SerializationOptionRequest(only_id=False),
            include_annotation_history=False,
        ),
    )
    for _ in range(240):
        snap = client.projects.exports.get(project_id, snap.id)
        if snap.status in ("completed", "failed"):
            break
        time.sleep(0.5)
    if snap.status != "completed":
        raise RuntimeError(f"snapshot export {snap.id} ended as {snap.status!r}")
    raw = b"".join(client.projects.exports.download(project_id, snap.id, export_type="JSON"))
    out.write_bytes(raw)
    return json.loads(raw)


def _choices(name: str, value: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "sentence", "type": "choices", "value": {"choices": [value]}}


def roundtrip(args: argparse.Namespace) -> dict[str, Any]:
    admin = _client(args.url, args.token)
    config = Path(args.config).read_text(encoding="utf-8")
    tasks = json.loads(Path(args.tasks).read_text(encoding="utf-8"))
    plan = json.loads(Path(args.labels).read_text(encoding="utf-8"))
    project = _project(admin, "framing annotate round trip", config)
    ids = _import(admin, project.id, tasks)
    by_task = {t["data"]["task_id"]: i for t, i in zip(tasks, ids, strict=True)}
    n_annotations = 0
    people = []
    for k, person in enumerate(plan["annotators"]):
        # the first annotator is the admin (the analyst who set up the project); the others sign up
        client = admin if k == 0 else _client(args.url, signup(args.url, person["email"], person["password"]))
        me = client.users.whoami()
        if me.email != person["email"]:
            raise RuntimeError(f"annotator {k} is {me.email}, expected {person['email']}")
        for task_id, labels in person["labels"].items():
            result = [_choices("frame", labels["frame"]), _choices("attribution", labels["attribution"])]
            client.annotations.create(id=by_task[task_id], result=result, lead_time=4.0)
            n_annotations += 1
        people.append({"id": me.id, "email": me.email})
    exported = _snapshot(admin, project.id, Path(args.out))
    return {
        "project": project.id,
        "tasks": len(ids),
        "annotations": n_annotations,
        "exported_tasks": len(exported),
        "annotators": people,
    }


def predictions(args: argparse.Namespace) -> dict[str, Any]:
    admin = _client(args.url, args.token)
    config = Path(args.config).read_text(encoding="utf-8")
    tasks = json.loads(Path(args.tasks).read_text(encoding="utf-8"))
    project = _project(admin, "framing annotate predictions", config)
    result = admin.projects.import_tasks(id=project.id, request=tasks, return_task_ids=True)
    exported = _snapshot(admin, project.id, Path(args.out))
    return {
        "project": project.id,
        "tasks": result.task_count,
        "predictions": result.prediction_count,
        "exported_tasks": len(exported),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("roundtrip", "predictions"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--token", required=True, help="the admin's API token")
        p.add_argument("--config", required=True, help="label_config.xml from 'framing annotate export'")
        p.add_argument("--tasks", required=True, help="tasks.json from 'framing annotate export'")
        p.add_argument("--out", required=True, help="where to write the JSON snapshot export")
        if name == "roundtrip":
            p.add_argument("--labels", required=True, help='{"annotators": [{"email", "password", "labels"}]}')
    args = parser.parse_args(argv)
    summary = roundtrip(args) if args.command == "roundtrip" else predictions(args)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
