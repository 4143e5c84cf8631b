"""``bentoml serve`` as a managed subprocess: in the background for benchmarks and tests
(``Server``), in the foreground for ``framing serve`` (``run_foreground``).

Why one place: starting, waiting for readiness (bounded), and always stopping the server
and every worker it started (terminate, then kill the process group) is easy to get subtly
wrong twice. ``docker stop`` and systemd send SIGTERM to ``framing serve``; a server left
running after its parent died would hold the port until someone finds it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
SERVICE = "serving.service:FramingService"
POLL_S = 0.5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


class Server:
    """``bentoml serve`` as a subprocess on 127.0.0.1; ``stop()`` is idempotent and always kills."""

    def __init__(self, log_dir: Path, startup_timeout_s: float, env: dict[str, str] | None = None):
        self.port = _free_port()
        self.extra_env = env or {}
        self.base = f"http://{HOST}:{self.port}"
        self.startup_timeout_s = startup_timeout_s
        self.out_path = log_dir / "server.stdout.log"
        self.err_path = log_dir / "server.stderr.log"
        self.cmd = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", HOST, "--port", str(self.port)]
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._pids: set[int] = set()

    def _remember_children(self) -> None:
        import psutil

        if self.proc is None:
            return
        with contextlib.suppress(psutil.Error):
            self._pids.update(c.pid for c in psutil.Process(self.proc.pid).children(recursive=True))

    def start(self) -> None:
        import httpx

        env = os.environ.copy() | self.extra_env
        env.setdefault("BENTOML_DO_NOT_TRACK", "True")  # no usage telemetry from a benchmark
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            # Own session: if terminate() is not enough, the whole group can be killed.
            self.proc = subprocess.Popen(
                self.cmd, cwd=REPO, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
            )
        t0 = time.monotonic()
        deadline = t0 + self.startup_timeout_s
        with httpx.Client(timeout=httpx.Timeout(2.0)) as client:
            for _ in range(int(self.startup_timeout_s / POLL_S) + 2):  # bounded
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with code {self.proc.returncode} before it was ready\n"
                        f"--- stderr tail ---\n{_tail(self.err_path)}\n--- stdout tail ---\n{_tail(self.out_path)}"
                    )
                self._remember_children()
                try:
                    if client.get(f"{self.base}/readyz").status_code == 200:
                        self.startup_s = round(time.monotonic() - t0, 2)
                        self._remember_children()
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    break
                time.sleep(POLL_S)
        raise RuntimeError(
            f"server not ready on {self.base} within {self.startup_timeout_s:.0f} s\n"
            f"--- stderr tail ---\n{_tail(self.err_path)}\n--- stdout tail ---\n{_tail(self.out_path)}"
        )

    def stop(self) -> None:
        import psutil

        proc, self.proc = self.proc, None
        if proc is None:
            return
        self._pids.discard(proc.pid)
        with contextlib.suppress(psutil.Error):
            self._pids.update(c.pid for c in psutil.Process(proc.pid).children(recursive=True))
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.kill()
                proc.wait(timeout=30)
        _end_all(self._pids, signal.SIGTERM, wait_s=10.0)  # workers that outlived the arbiter (only ours)
        self._pids.clear()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _descendants(pid: int) -> set[int]:
    import psutil

    with contextlib.suppress(psutil.Error):
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    return set()


def _end_all(pids: set[int], sig: int, wait_s: float) -> None:
    """Send ``sig`` to every process still alive in ``pids``; SIGKILL those alive after ``wait_s``."""
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.send_signal(sig)
            procs.append(proc)
    _, alive = psutil.wait_procs(procs, timeout=wait_s)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def run_foreground(cmd: list[str], *, grace_s: float, env: dict[str, str] | None = None) -> int:
    """Run the server until it exits or this process gets SIGTERM / SIGINT; return the exit code.

    The server runs in its own process group. The first signal asks the whole group to stop
    (SIGTERM: workers finish their in-flight requests) and waits up to ``grace_s``; a second
    signal, or the grace period running out, kills what is left. Every process the server
    started is tracked, so none outlives this call and the port is free when it returns.
    A stop that was asked for returns 0.
    """
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    pids: set[int] = set()
    signals: list[int] = []
    deadline: list[float] = []

    def on_signal(signum: int, _frame: object) -> None:
        signals.append(signum)
        pids.update(_descendants(proc.pid))
        if len(signals) == 1:
            deadline.append(time.monotonic() + grace_s)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        else:  # a second signal: stop at once
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            try:
                code = proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                pids.update(_descendants(proc.pid))
                if deadline and time.monotonic() > deadline[0]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:  # this function itself failed: never leave the server behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        # Workers that outlived the arbiter (only the ones this server started).
        _end_all(pids, signal.SIGTERM, wait_s=min(grace_s, 10.0))
    return 0 if signals else code
