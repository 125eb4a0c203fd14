"""Child processes and CPU accounting for `manage.py loadtest` (Linux: reads /proc)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HZ = os.sysconf("SC_CLK_TCK")


class Children:
    """Child processes in their own process groups, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], *, env: dict, log_path: Path) -> subprocess.Popen:
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()


def lower_cpu_weight(proc: subprocess.Popen, nice: int) -> str:
    """Give a child started in its own session a lower CPU weight; returns what was done, for the report.

    `nice` alone does little here: with the kernel's autogroup scheduling every session is a group
    of its own and groups share the CPU equally whatever their members' nice values, so a niced
    scoring worker still took half of the two cores. Writing the value to /proc/PID/autogroup sets
    the group's weight instead (what CPUWeight= in a systemd unit does for a service).
    """
    path = Path(f"/proc/{proc.pid}/autogroup")
    if not path.exists():
        return f"nice {nice} (no autogroup scheduling)"
    try:
        path.write_text(str(nice))
    except OSError as exc:
        return f"nice {nice}; autogroup weight not set ({exc.strerror})"
    return f"nice {nice} and autogroup nice {nice}"


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)  # the group this run created (start_new_session): nothing else


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (e.g. from `timeout`) becomes an exception, so the children are stopped too."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    check: Callable[[], bool], *, what: str, proc: subprocess.Popen, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}; see {log}:\n{log_tail(log)}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s; see {log}:\n{log_tail(log)}")


def log_tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def answers_http(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def process_tree(pid: int) -> list[int]:
    pids, to_visit = [], [pid]
    while to_visit:
        p = to_visit.pop()
        pids.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                to_visit += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return pids


def postgres_backends(dbname: str) -> list[int]:
    """Backends serving this database (their process title names it), wherever PostgreSQL runs here."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {dbname} " in title:
                pids.append(int(entry.name))
    return pids


def _machine_busy() -> tuple[float, float]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) / HZ, (values[3] + values[4]) / HZ  # total, idle + iowait


class CpuMeter:
    """CPU seconds per component between start() and stop(), from /proc (Linux)."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}

    def _snap(self) -> dict[str, dict[int, float]]:
        return {name: {p: _cpu_of(p) for p in find()} for name, find in self.groups.items()}

    def start(self) -> None:
        self.before, self.machine_before, self.t0 = self._snap(), _machine_busy(), time.monotonic()

    def stop(self) -> dict:
        after, machine, seconds = self._snap(), _machine_busy(), time.monotonic() - self.t0
        out: dict = {"seconds": round(seconds, 2)}
        for name, pids in after.items():
            used = sum(max(0.0, cpu - self.before.get(name, {}).get(p, 0.0)) for p, cpu in pids.items())
            out[name] = {"cpu_s": round(used, 2), "cores": round(used / seconds, 2) if seconds else None}
        total, idle = machine[0] - self.machine_before[0], machine[1] - self.machine_before[1]
        out["machine_busy_pct"] = round(100 * (1 - idle / total), 1) if total else None
        return out
