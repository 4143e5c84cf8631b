"""A real ``bentoml serve`` subprocess on 127.0.0.1, for the benchmark and end-to-end tests.

Why one place: starting, waiting for readiness (bounded), and always stopping the server
(terminate, then kill the process group) is easy to get subtly wrong twice.
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

    def __init__(self, log_dir: Path, startup_timeout_s: float):
        self.port = _free_port()
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

        env = os.environ.copy()
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
        # Workers that outlived the arbiter (only the ones this server started).
        for pid in sorted(self._pids):
            with contextlib.suppress(psutil.Error):
                child = psutil.Process(pid)
                child.terminate()
                try:
                    child.wait(timeout=10)
                except psutil.TimeoutExpired:
                    child.kill()
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
