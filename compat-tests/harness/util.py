"""Process, port and file helpers shared by the harness.

Every child process is started in its own process group (``start_new_session``) so
that stopping it also stops whatever it forked (``mvn`` and ``java`` launchers,
``cargo`` and ``rustc``), and every wait has a deadline.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPAT_DIR = HERE.parent
REPO_ROOT = COMPAT_DIR.parent
CACHE_DIR = COMPAT_DIR / ".cache"

LOOPBACK = "127.0.0.1"


class ScenarioFailure(Exception):
    """A scenario (or something it needs) failed; the message is the one-line reason.

    ``detail`` holds extra lines (a diff, a log tail) printed under the FAIL line.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- processes

_live_lock = threading.Lock()
_live: set["Proc"] = set()
_foreground: set[subprocess.Popen] = set()


class Proc:
    """A background process in its own process group, with output sent to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            argv, cwd=str(cwd) if cwd else None, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 8.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it is still there after ``grace`` s."""
        t0 = time.monotonic()
        how = "exited by itself"
        try:
            if self.popen.poll() is None:
                _signal_group(self.popen.pid, signal.SIGTERM)
                how = "stopped by SIGTERM"
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    how = f"killed: still running {grace:.0f} s after SIGTERM"
            # Children may outlive the leader; the group id is still the leader's pid.
            _signal_group(self.popen.pid, signal.SIGKILL)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        finally:
            with _live_lock:
                _live.discard(self)
            try:
                self._log.write(f"[harness] {how} (exit {self.popen.returncode}) in "
                                f"{time.monotonic() - t0:.1f} s\n".encode())
                self._log.close()
            except (OSError, ValueError):  # ValueError: stopped before, the log is closed
                pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all_processes() -> None:
    """Stops every Proc still running (used on exit and on Ctrl-C)."""
    with _live_lock:
        procs = list(_live)
        fg = list(_foreground)
    for p in fg:
        _signal_group(p.pid, signal.SIGKILL)
    threads = [threading.Thread(target=p.stop, kwargs={"grace": 5.0}) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)


def run(argv: list[str], timeout: float, log_path: Path | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[int, str]:
    """Runs a command to completion (own process group), returns (exit code, combined output).

    On timeout the whole group is killed and the exit code is -9; the output so far is kept.
    """
    started = time.monotonic()
    p = subprocess.Popen(argv, cwd=str(cwd) if cwd else None, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    with _live_lock:
        _foreground.add(p)  # so that Ctrl-C also kills foreground commands
    timed_out = False
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _signal_group(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
    finally:
        _signal_group(p.pid, signal.SIGKILL)  # leftovers in the group (daemon children)
        with _live_lock:
            _foreground.discard(p)
    text = out.decode("utf-8", "replace")
    rc = -9 if timed_out else p.returncode
    if timed_out:
        text += f"\n[harness] killed after {timeout:.0f} s time limit\n"
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(argv)}\n{text}\n[harness] exit {rc} after "
                    f"{time.monotonic() - started:.1f} s\n")
    return rc, text


# --------------------------------------------------------------------------- ports

_reserved_ports: set[int] = set()


def _port_free(port: int) -> bool:
    if port in _reserved_ports or not (1024 < port < 65536):
        return False
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))  # Java servers bind the wildcard address
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(extra_offsets: tuple[int, ...] = ()) -> int:
    """A free TCP port P such that P+offset is free too for every offset given.

    Picked below the Linux ephemeral range so outgoing connections do not take it
    between the check and the server's bind. Reserved for this run once returned.
    """
    for _ in range(500):
        p = random.randint(12000, 31000)
        if all(_port_free(p + o) for o in (0,) + extra_offsets):
            for o in (0,) + extra_offsets:
                _reserved_ports.add(p + o)
            return p
    raise ScenarioFailure("could not find a free loopback port")


def wait_tcp(port: int, timeout: float, proc: Proc | None = None) -> None:
    """Waits until 127.0.0.1:port accepts connections (fails early if ``proc`` dies)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return
        except OSError:
            pass
        if proc is not None and not proc.alive():
            raise ScenarioFailure(f"{proc.name} exited with code {proc.popen.returncode} before "
                                  f"listening on port {port}", tail(proc.log_path))
        if time.monotonic() > deadline:
            raise ScenarioFailure(f"nothing listening on {LOOPBACK}:{port} after {timeout:.0f} s",
                                  tail(proc.log_path) if proc else "")
        time.sleep(0.2)


# --------------------------------------------------------------------------- files

def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a text file, indented, for FAIL details."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return f"    (cannot read {path}: {e})"
    body = "\n".join("    | " + line for line in data[-lines:])
    return f"    --- last lines of {path}\n{body}"


def write_properties(path: Path, props: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for k, v in props.items():
            f.write(f"{k}={v}\n")


def last_line(text: str, prefer_prefix: str = "FAIL:") -> str:
    """The most useful one-line summary of a program's output."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith(prefer_prefix):
            return ln[len(prefer_prefix):].strip()
    return lines[-1] if lines else "(no output)"
