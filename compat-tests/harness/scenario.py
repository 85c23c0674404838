"""Scenario registry and the context scenarios run in.

A scenario is a function ``fn(ctx)`` that returns normally on success and raises
``ScenarioFailure`` otherwise. It is registered with a name (``group/sub/case``),
tags (for selection) and the cluster keys it needs. Clusters are started on first
use, shared by every scenario with the same key, and stopped after the last
selected scenario that needs them, so state carries over between scenarios in
registration order; a scenario that needs a pristine cluster uses a key of its own.

Adding a scenario:

    @scenario("clients/java-4.9.8/my-case", tags=("broker",), clusters=(TARGET,))
    def my_case(ctx):
        cluster = ctx.cluster(TARGET)
        rc, out = ctx.java("4.9.8", ["send-push", "--ns", cluster.namesrv.addr, ...])
        ...
"""

from __future__ import annotations

import fnmatch
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import config
from .servers import Cluster, ClusterSpec, java_executable
from .toolchain import REFERENCE_DIR, Toolchain
from .util import ScenarioFailure, last_line, run

# Cluster keys. The concrete implementations behind TARGET and CANDIDATE come from
# the command line (--ns / --broker); REFERENCE is always all-Java.
TARGET = "target"          # what client scenarios run against
REFERENCE = "diff-ref"     # Java namesrv + Java broker, the side mqadmin outputs are compared with
CANDIDATE = "diff-cand"    # --ns namesrv + Java broker, compared against REFERENCE

# Further cluster keys defined by scenario modules: key -> ClusterSpec for the options, and optionally
# key -> Cluster subclass (e.g. scenarios/broker_core.py: ours namesrv + ours broker, restartable).
EXTRA_SPECS: dict[str, Callable[["Options"], ClusterSpec]] = {}
CLUSTER_CLASSES: dict[str, type] = {}


@dataclass
class Scenario:
    name: str
    fn: Callable[["Context"], None]
    tags: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()

    def matches(self, pattern: str) -> bool:
        return (pattern in self.tags or pattern == self.name or pattern in self.name
                or fnmatch.fnmatchcase(self.name, pattern))


REGISTRY: list[Scenario] = []


def scenario(name: str, tags: tuple[str, ...] = (), clusters: tuple[str, ...] = ()):
    def deco(fn):
        if any(s.name == name for s in REGISTRY):
            raise ValueError(f"duplicate scenario {name}")
        REGISTRY.append(Scenario(name, fn, tags, clusters))
        return fn
    return deco


@dataclass
class Options:
    ns: str = "ours"
    broker: str = "java"
    ns_addr: str | None = None
    verbose: bool = False
    core_ns: str = "ours"        # the broker-core scenarios' cluster (scenarios/broker_core.py)
    core_broker: str = "ours"


@dataclass
class Context:
    options: Options
    toolchain: Toolchain
    run_dir: Path
    clusters: dict[str, Cluster] = field(default_factory=dict)
    cluster_failures: dict[str, ScenarioFailure] = field(default_factory=dict)
    memo: dict[object, object] = field(default_factory=dict)
    current: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict)

    def spec(self, key: str) -> ClusterSpec:
        o = self.options
        if key == TARGET:
            return ClusterSpec(key, o.ns, o.broker)
        if key == REFERENCE:
            return ClusterSpec(key, "java", "java")
        if key == CANDIDATE:
            return ClusterSpec(key, o.ns, "java")
        if key in EXTRA_SPECS:
            return EXTRA_SPECS[key](o)
        raise KeyError(key)

    def cluster(self, key: str) -> Cluster:
        """The started cluster for ``key`` (started now if needed; a start failure is remembered)."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one start per key; different keys start in parallel
            if key in self.cluster_failures:
                first = self.cluster_failures[key]
                raise ScenarioFailure(first.reason, "    (logs: see the first failure of this cluster above)")
            c = self.clusters.get(key)
            if c is None:
                spec = self.spec(key)
                # --ns-addr only replaces the nameserver under test, never the reference one.
                ns_addr = self.options.ns_addr if key in (TARGET, CANDIDATE) else None
                c = CLUSTER_CLASSES.get(key, Cluster)(spec, self.run_dir / "clusters" / key, self.toolchain, ns_addr)
                t0 = time.monotonic()
                try:
                    c.start()
                except ScenarioFailure as e:
                    what = spec.describe() + (f" at {ns_addr}" if ns_addr else "")
                    f = ScenarioFailure(f"cluster {key} ({what}) did not start: {e.reason}",
                                        e.detail)
                    self.cluster_failures[key] = f
                    raise f from None
                with self._lock:
                    self.clusters[key] = c
                self.note(f"cluster {key} ({spec.describe()}) up in {time.monotonic() - t0:.1f} s: "
                          f"namesrv {c.namesrv.addr}, broker {c.broker.addr}")
        c.alive_check()
        return c

    def clusters_parallel(self, *keys: str) -> list[Cluster]:
        """Starts several clusters at once (each start is mostly JVM warm-up)."""
        errors: list[ScenarioFailure] = []

        def start(k):
            try:
                self.cluster(k)
            except ScenarioFailure as e:
                errors.append(e)
        threads = [threading.Thread(target=start, args=(k,)) for k in keys]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return [self.cluster(k) for k in keys]

    def stop_cluster(self, key: str) -> None:
        with self._lock:
            c = self.clusters.pop(key, None)
        if c is not None:
            c.stop()

    def stop_all(self) -> None:
        threads = [threading.Thread(target=self.stop_cluster, args=(k,)) for k in list(self.clusters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def note(self, text: str) -> None:
        """Progress line, printed only with --verbose."""
        if self.options.verbose:
            print(f"    [{text}]", flush=True)

    # ------------------------------------------------------------------ client programs

    def log_path(self, what: str) -> Path:
        safe = self.current.replace("/", "_") or "harness"
        return self.run_dir / "scenarios" / f"{safe}.{what}.log"

    def java(self, version: str, argv: list[str], timeout: float, what: str = "java",
             cwd: Path | None = None) -> tuple[int, str]:
        """Runs ``compat.Main argv`` with client/tools ``version`` on the classpath (in ``cwd``: some
        mqadmin commands write files into their working directory)."""
        cp = self.toolchain.java_classpath(version)
        home = self.run_dir / "client-home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)  # conf/logback_tools.xml for the 4.9.x tools
        env.pop("NAMESRV_ADDR", None)
        cmd = [java_executable(), *config.CLIENT_JVM, f"-Duser.home={home}",
               f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
               "-cp", cp, "compat.Main", *argv, "--timeout-ms", str(int(timeout * 1000))]
        return run(cmd, timeout + 30, self.log_path(what), cwd=cwd, env=env)

    def go(self, argv: list[str], timeout: float) -> tuple[int, str]:
        exe = self.toolchain.go_binary()
        env = dict(os.environ)
        env["HOME"] = str(self.run_dir / "client-home")
        return run([str(exe), *argv, "-timeout", f"{int(timeout)}s"], timeout + 30, self.log_path("go"),
                   env=env)


def check_program(rc: int, out: str, what: str, log: Path) -> None:
    """Turns a scenario program's exit status into PASS (return) or FAIL (raise)."""
    if rc == 0 and out.rstrip().endswith("OK"):
        return
    reason = last_line(out)
    if rc == -9:
        reason = f"time limit exceeded ({reason})"
    raise ScenarioFailure(f"{what}: {reason}", f"    full output: {log}")
