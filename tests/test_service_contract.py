"""The service keeps its contract: under fuzzing, against strangers, under overload, and when stopped.

Every test talks to the real ``bentoml serve`` (or ``framing serve``) started as a subprocess:
schemathesis fuzzes the OpenAPI document the server publishes, the API key is checked from
plain HTTP, ``framing score --url`` and a real browser, a concurrency limit of one forces
load shedding, and SIGTERM must leave no process and a free port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
KEY = "test-key-7c1f0d9b2a"  # a test secret: asserted never to appear in logs or outputs
STARTUP_TIMEOUT_S = 240.0
ARTICLE = {
    "source": "wire",
    "text": "Azerbaijan launched what it termed anti-terrorist measures. Officials in Stepanakert reported shelling.",
    "published": "2023-09-19",
}


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str]) -> Any:
    from serving.server_process import Server

    srv = Server(tmp_path_factory.mktemp(name), startup_timeout_s=STARTUP_TIMEOUT_S, env=env)
    try:
        srv.start()
    except RuntimeError as exc:
        srv.stop()
        pytest.fail(str(exc))
    return srv


@pytest.fixture(scope="module")
def keyed(trained_model, bentoml_home, tmp_path_factory):
    """A server that needs ``KEY``; yields the Server (base URL and log paths)."""
    srv = start_server(tmp_path_factory, "keyed-server", {"FRAMING_API_KEY": KEY})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def http(keyed):
    import httpx

    with httpx.Client(base_url=keyed.base, timeout=120.0) as client:
        yield client


AUTH = {"Authorization": f"Bearer {KEY}"}


# --------------------------------------------------------------------------- fuzzing
def test_schemathesis_finds_nothing(keyed, tmp_path):
    """All checks, a fixed seed and a bounded number of examples per operation: zero findings."""
    st = Path(sys.executable).with_name("schemathesis")
    assert st.is_file(), "schemathesis is a dev dependency: pip install -e '.[dev]'"
    cmd = [
        str(st),
        "run",
        f"{keyed.base}/docs.json",
        "--checks",
        "all",
        "--max-examples",
        "25",
        "--seed",
        "20261206",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--request-timeout",
        "120",
        "--workers",
        "1",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "No issues found" in out, out[-3000:]


def test_the_published_document_is_the_contract(http):
    doc = http.get("/docs.json").json()
    for path in ("/classify", "/score"):
        op = doc["paths"][path]["post"]
        assert op["requestBody"]["required"] is True
        assert {"400", "401", "413", "415", "503"} <= set(op["responses"]), sorted(op["responses"])
        assert "500" not in op["responses"]
        assert "Retry-After" in op["responses"]["503"]["headers"]
        assert op["security"] == [{"bearer": []}]
    error = doc["components"]["schemas"]["ErrorResponse"]
    assert error["properties"]["detail"]["type"] == "array"
    article = doc["components"]["schemas"]["Article"]["properties"]
    published = article["published"]["anyOf"][0]
    assert published["type"] == "string" and published["format"] == "date" and "pattern" in published
    assert "\\x00" in article["text"]["pattern"]  # control characters are forbidden by the schema too


# --------------------------------------------------------------------------- bad input, no 5xx
@pytest.mark.parametrize(
    ("headers", "body", "status", "words"),
    [
        ({"Content-Type": "multipart/form-data"}, b"x=1", 415, "application/json"),
        ({"Content-Type": "text/plain"}, b'{"sentences": ["a"]}', 415, "text/plain"),
        ({}, b'{"sentences": ["a"]}', 415, "no Content-Type"),
        ({"Content-Type": "application/json"}, b"", 400, "no body"),
        ({"Content-Type": "application/json"}, b"{bad", 400, "JSON"),
    ],
)
def test_unsupported_or_empty_bodies_get_a_json_4xx(http, headers, body, status, words):
    for path in ("/classify", "/score"):
        r = http.post(path, content=body, headers={**AUTH, **headers})
        assert r.status_code == status, (path, r.status_code, r.text)
        payload = r.json()
        assert words in json.dumps(payload), payload
        if status == 415:
            assert payload["accepted"] == ["application/json"]


def test_schema_violations_are_rejected_with_the_field_named(http):
    r = http.post("/score", json={"articles": [{**ARTICLE, "published": 0}]}, headers=AUTH)
    assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["articles", 0, "published"]
    r = http.post("/score", json={"articles": [{**ARTICLE, "published": "2023-02-30"}]}, headers=AUTH)
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    r = http.post("/classify", json={"sentences": ["ok", "bad\u0000text"]}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["detail"][0]["loc"][:2] == ["sentences", 1]
    assert "control characters" in r.json()["detail"][0]["msg"]


# --------------------------------------------------------------------------- who may call
def test_every_route_but_the_public_ones_needs_the_key(http):
    for method, path in (("GET", "/info"), ("POST", "/classify"), ("POST", "/score"), ("GET", "/metrics")):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            r = http.request(method, path, json={"sentences": ["a"]}, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert "API key" in r.json()["error"] and r.headers["www-authenticate"].startswith("Bearer")
    for path in ("/livez", "/readyz", "/ui", "/ui/static/app.js", "/docs.json"):
        assert http.get(path).status_code == 200, path
    assert http.get("/", follow_redirects=False).status_code in (302, 307)
    r = http.post("/classify", json={"sentences": ["The EU urged a ceasefire."]}, headers=AUTH)
    assert r.status_code == 200 and r.json()[0]["frame"]


def test_the_key_works_from_curl(keyed):
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{keyed.base}/info"]
    assert subprocess.run(curl, capture_output=True, text=True, timeout=60).stdout == "401"
    with_key = [*curl[:-1], "-H", f"Authorization: Bearer {KEY}", f"{keyed.base}/info"]
    assert subprocess.run(with_key, capture_output=True, text=True, timeout=60).stdout == "200"


def test_framing_score_url_sends_the_key_and_never_writes_it(keyed, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(ARTICLE["text"], encoding="utf-8")
    base = [sys.executable, "-m", "serving.cli", "score", str(src), "--source", "wire", "--url", keyed.base]
    env = {k: v for k, v in os.environ.items() if k != "FRAMING_API_KEY"}
    refused = subprocess.run([*base, "--out", str(tmp_path / "no")], capture_output=True, text=True, env=env)
    assert refused.returncode == 3 and "API key" in refused.stderr + refused.stdout
    ok = subprocess.run(
        [*base, "--out", str(tmp_path / "opt"), "--api-key", KEY], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    by_env = subprocess.run(
        [*base, "--out", str(tmp_path / "env")],
        capture_output=True,
        text=True,
        env={**env, "FRAMING_API_KEY": KEY},
    )
    assert by_env.returncode == 0, by_env.stderr[-2000:]
    for out in ("opt", "env"):
        for f in (tmp_path / out).iterdir():
            assert KEY not in f.read_text(encoding="utf-8", errors="replace"), f
    manifest = json.loads((tmp_path / "opt" / "manifest.json").read_text())
    assert "***" in manifest["command"]
    assert KEY not in ok.stdout + ok.stderr


def test_the_web_page_asks_for_the_key_and_keeps_it_for_the_tab(keyed, chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{keyed.base}/")
    page.wait_for_selector("#key-form:not([hidden])", timeout=60_000)
    page.fill("#api-key", "wrong")
    page.click("#use-key")
    page.wait_for_selector("#key-form:not([hidden])", timeout=60_000)
    assert "refused" in page.inner_text("#key-message")
    page.fill("#api-key", KEY)
    page.click("#use-key")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.evaluate("sessionStorage.getItem('framing-api-key')") == KEY
    assert page.evaluate("localStorage.length") == 0  # nothing outlives the tab
    page.fill("#article-1-source", ARTICLE["source"])
    page.fill("#article-1-text", ARTICLE["text"])
    page.click("#analyse")
    page.wait_for_selector("#results:not([hidden]) .sentence", timeout=120_000)
    context.close()


def test_the_key_is_never_logged(keyed, http):
    http.get("/info", headers=AUTH)
    http.get("/info", headers={"Authorization": "Bearer not-the-key"})
    logs = keyed.out_path.read_text(errors="replace") + keyed.err_path.read_text(errors="replace")
    assert logs and KEY not in logs


def test_a_key_file_is_read_and_an_empty_one_refused(tmp_path):
    from serving.gateway import ConfigError, load_api_key

    path = tmp_path / "key"
    path.write_text(f"{KEY}\n")
    assert load_api_key({"FRAMING_API_KEY_FILE": str(path)}) == KEY
    path.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        load_api_key({"FRAMING_API_KEY_FILE": str(path)})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_api_key({"FRAMING_API_KEY_FILE": str(tmp_path / "missing")})
    assert load_api_key({}) is None


# --------------------------------------------------------------------------- overload
@pytest.fixture(scope="module")
def narrow(trained_model, bentoml_home, tmp_path_factory):
    srv = start_server(tmp_path_factory, "narrow-server", {"FRAMING_MAX_CONCURRENCY": "1"})
    try:
        yield srv
    finally:
        srv.stop()


def test_overload_is_a_503_with_retry_after_and_never_a_500(narrow):
    import httpx

    sentences = [f"Sentence {i} about the ceasefire talks in Brussels." for i in range(64)]

    def call(_i: int) -> httpx.Response:
        with httpx.Client(base_url=narrow.base, timeout=120.0) as client:
            return client.post("/classify", json={"sentences": sentences})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(call, range(24)))
    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 503 in statuses, statuses
    assert set(statuses) <= {200, 503}, statuses
    shed = next(r for r in responses if r.status_code == 503)
    assert shed.headers["retry-after"].isdigit()
    assert "capacity" in shed.json()["error"] and shed.json()["retry_after_s"] >= 0


def test_the_remote_batch_engine_waits_out_the_overload_and_loses_nothing(narrow, tmp_path):
    """Other clients keep the one slot busy while ``framing score --url`` runs: it is shed, waits, finishes."""
    import threading

    import httpx

    from serving.batch import ScoreOptions, run

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        (src / f"a{i:02d}.txt").write_text(f"Report {i}. " + ARTICLE["text"] * 3, encoding="utf-8")
    stop = threading.Event()
    # Long requests back to back keep the one slot busy: each takes seconds, and a hog that just got
    # its answer asks again at once, so the batch's requests arrive while the slot is taken.
    sentences = [f"Sentence {i} about the ceasefire talks in Brussels and the shelling of towns." for i in range(256)]

    def other_client() -> None:  # polite: honours Retry-After, and stops after a while (the pressure is a burst)
        with httpx.Client(base_url=narrow.base, timeout=120.0) as client:
            while not stop.is_set():
                r = client.post("/classify", json={"sentences": sentences})
                if r.status_code == 503:
                    time.sleep(float(r.headers["retry-after"]))

    others = [threading.Thread(target=other_client, daemon=True) for _ in range(2)]
    for th in others:
        th.start()
    threading.Timer(30.0, stop.set).start()
    with httpx.Client(base_url=narrow.base, timeout=120.0) as probe:  # start once the slot is seen taken
        deadline = time.monotonic() + 30
        while probe.post("/classify", json={"sentences": ["probe"]}).status_code != 503:
            assert time.monotonic() < deadline, "the other clients never filled the slot"
            time.sleep(0.05)
    logs: list[str] = []
    try:
        result = run(
            ScoreOptions(
                inputs=[src],
                out=tmp_path / "out",
                url=narrow.base,
                source="wire",
                chunk_size=2,
                retries=30,
                backoff_s=0.2,
                progress=False,
                command=["test"],
            ),
            log=logs.append,
        )
    finally:
        stop.set()
        for th in others:
            th.join(timeout=120)
    assert result.exit_code == 0
    assert result.manifest["counts"]["articles"] == 12 and not result.rejects
    assert any("503" in m for m in logs), logs  # it really was shed, and retried


# --------------------------------------------------------------------------- clean stop
def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_framing_serve_stops_every_process_and_frees_the_port(trained_model, bentoml_home, sig):
    import httpx
    import psutil

    from serving.server_process import _free_port

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "serving.cli", "serve", "--port", str(port), "--grace", "15"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert proc.poll() is None, "framing serve exited before it was ready"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("framing serve was not ready in time")
        children = {c.pid for c in psutil.Process(proc.pid).children(recursive=True)}
        assert children, "bentoml serve should run as a child"
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0
        time.sleep(0.5)
        alive = [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"processes left running: {alive}"
        assert _port_free(port), f"port {port} still held"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children:
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()
