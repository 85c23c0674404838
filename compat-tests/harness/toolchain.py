"""Fetching and building everything the scenarios run: Maven artifacts, the Go
program, our Rust binaries.

Each item is built at most once per run and only when a selected scenario asks
for it. Maven results are cached in ``compat-tests/.cache`` behind a stamp (a hash
of the inputs), so a warm run does not start Maven at all; ``go build`` and
``cargo build`` are always invoked because they are incremental themselves.
A failed build is remembered and reported as the FAIL reason of every scenario
that needs it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path

from . import go_tls_backport
from .util import CACHE_DIR, COMPAT_DIR, REPO_ROOT, ScenarioFailure, run, tail

JAVA_DIR = COMPAT_DIR / "java"
GO_DIR = COMPAT_DIR / "go"
GO_TLS_DIR = COMPAT_DIR / "go-tls"
REFERENCE_DIR = COMPAT_DIR / "reference"

MAVEN_TIMEOUT = 30 * 60
CARGO_TIMEOUT = 40 * 60
GO_TIMEOUT = 20 * 60


def _hash_files(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in sorted(paths):
        h.update(str(p.relative_to(COMPAT_DIR)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _maven_base() -> list[str]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ScenarioFailure("Maven (mvn) is not installed")
    # -B: no progress bars; retries help on a flaky first download.
    return [mvn, "-B", "-q", "-Dmaven.wagon.http.retryHandler.count=3"]


class _CacheLock:
    """An exclusive flock on compat-tests/.cache/.build.lock (released on close, even on a crash)."""

    def __enter__(self):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        self._f = open(CACHE_DIR / ".build.lock", "w")
        fcntl.flock(self._f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._f, fcntl.LOCK_UN)
        self._f.close()


class Toolchain:
    def __init__(self, run_dir: Path, cargo_build: bool = True):
        self.build_log_dir = run_dir / "build"
        self.cargo_build = cargo_build
        self._lock = threading.Lock()
        self._memo: dict[str, object] = {}
        # Maven and cargo share two cores with everything else: one build at a time.
        self._build_lock = threading.Lock()

    def _once(self, key: str, fn, shared_cache: bool = True):
        with self._lock:
            if key in self._memo:
                v = self._memo[key]
                if isinstance(v, ScenarioFailure):
                    raise v
                return v
        with self._build_lock:
            with self._lock:
                if key in self._memo:  # built by another thread meanwhile
                    v = self._memo[key]
                    if isinstance(v, ScenarioFailure):
                        raise v
                    return v
            try:
                # Other runs of the harness (other engineers, same checkout) share .cache and
                # java/target: builds are serialised across processes too.
                if shared_cache:
                    with _CacheLock():
                        v = fn()
                else:
                    v = fn()
            except ScenarioFailure as e:
                v = e
            with self._lock:
                self._memo[key] = v
        if isinstance(v, ScenarioFailure):
            raise v
        return v

    # ------------------------------------------------------------------ Java scenarios

    def java_jar(self) -> Path:
        return self._once("java-jar", self._build_java_jar)

    def _build_java_jar(self) -> Path:
        jar = JAVA_DIR / "target" / "compat-scenarios-0.1.0.jar"
        inputs = [JAVA_DIR / "pom.xml"] + [p for p in (JAVA_DIR / "src").rglob("*") if p.is_file()]
        stamp_file = CACHE_DIR / "stamps" / "java-jar"
        stamp = _hash_files(inputs)
        if jar.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return jar
        log = self.build_log_dir / "maven-java.log"
        rc, out = run(_maven_base() + ["package", "-DskipTests"], MAVEN_TIMEOUT, log, cwd=JAVA_DIR)
        if rc != 0 or not jar.exists():
            raise ScenarioFailure(f"building compat-tests/java failed (mvn exit {rc})", tail(log))
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp)
        return jar

    def java_classpath(self, version: str) -> str:
        """Scenario jar plus rocketmq-client and rocketmq-tools ``version`` with dependencies."""
        jar = self.java_jar()
        deps = self._once(f"java-cp-{version}", lambda: self._resolve_classpath(version))
        return f"{jar}{os.pathsep}{deps}"

    def _resolve_classpath(self, version: str) -> str:
        out_file = CACHE_DIR / f"java-cp-{version}.txt"
        stamp_file = CACHE_DIR / "stamps" / f"java-cp-{version}"
        stamp = _hash_files([JAVA_DIR / "pom.xml"], version)
        if out_file.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            cp = out_file.read_text().strip()
            if cp and all(Path(p).exists() for p in cp.split(os.pathsep)):
                return cp
        log = self.build_log_dir / f"maven-classpath-{version}.log"
        out_file.parent.mkdir(parents=True, exist_ok=True)
        rc, _ = run(_maven_base() + ["dependency:build-classpath", f"-Drocketmq.version={version}",
                                     f"-Dmdep.outputFile={out_file}"], MAVEN_TIMEOUT, log, cwd=JAVA_DIR)
        if rc != 0 or not out_file.exists():
            raise ScenarioFailure(f"resolving Java client {version} from Maven failed (mvn exit {rc})",
                                  tail(log))
        cp = out_file.read_text().strip()
        if f"rocketmq-client-{version}.jar" not in cp:
            raise ScenarioFailure(f"classpath for {version} has no rocketmq-client-{version}.jar")
        stamp_file.parent.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp)
        return cp

    # ------------------------------------------------------------------ reference servers

    def reference_lib(self, version: str) -> Path:
        """Directory holding rocketmq-namesrv, -broker and -tools ``version`` and all their jars."""
        return self._once(f"ref-{version}", lambda: self._fetch_reference(version))

    def _fetch_reference(self, version: str) -> Path:
        lib = CACHE_DIR / f"ref-{version}" / "lib"
        marker = lib / ".complete"
        if marker.exists() and (lib / f"rocketmq-broker-{version}.jar").exists():
            return lib
        if lib.exists():
            shutil.rmtree(lib)
        log = self.build_log_dir / f"maven-reference-{version}.log"
        rc, _ = run(_maven_base() + ["dependency:copy-dependencies", f"-Drocketmq.version={version}",
                                     f"-DoutputDirectory={lib}"], MAVEN_TIMEOUT, log, cwd=REFERENCE_DIR)
        if rc != 0 or not (lib / f"rocketmq-broker-{version}.jar").exists():
            raise ScenarioFailure(f"fetching the Java reference servers {version} failed (mvn exit {rc})",
                                  tail(log))
        marker.write_text(version)
        return lib

    def rocketmq_home_template(self) -> Path:
        """What ROCKETMQ_HOME must contain for the 4.9.x tools: conf/logback_tools.xml."""
        return REFERENCE_DIR

    # ------------------------------------------------------------------ Go

    def go_binary(self) -> Path:
        return self._once("go", self._build_go)

    def _build_go(self, src: Path = GO_DIR, name: str = "compat-go") -> Path:
        go = shutil.which("go")
        if go is None:
            raise ScenarioFailure("Go is not installed")
        out = CACHE_DIR / "bin" / name
        log = self.build_log_dir / f"{name}-build.log"
        env = dict(os.environ)
        env.setdefault("GOFLAGS", "-mod=mod")
        rc, _ = run([go, "build", "-o", str(out), "."], GO_TIMEOUT, log, cwd=src, env=env)
        if rc != 0 or not out.exists():
            raise ScenarioFailure(f"building compat-tests/{src.name} failed (go exit {rc})", tail(log))
        return out

    def go_tls_binary(self) -> Path:
        """compat-tests/go-tls against a client-go with TLS: by default v2.1.2 from the module
        proxy with upstream's TLS change re-applied (harness/go_tls_backport.py), or the
        client-go source tree named by ``COMPAT_GO_TLS_CLIENT_SRC`` (e.g. a master checkout).
        The committed go.mod stays untouched: the replace lives in a copy under .cache."""
        return self._once("go-tls", self._build_go_tls)

    def _build_go_tls(self) -> Path:
        go = shutil.which("go")
        if go is None:
            raise ScenarioFailure("Go is not installed")
        env = dict(os.environ)
        env.setdefault("GOFLAGS", "-mod=mod")
        work = CACHE_DIR / "go-tls"
        work.mkdir(parents=True, exist_ok=True)
        log = self.build_log_dir / "compat-go-tls-download.log"
        src = os.environ.get("COMPAT_GO_TLS_CLIENT_SRC")
        if src:
            client = Path(src).resolve()
        else:
            module = f"github.com/apache/rocketmq-client-go/v2@{go_tls_backport.BASE_VERSION}"
            rc, out = run([go, "mod", "download", "-json", module], GO_TIMEOUT, log, cwd=GO_TLS_DIR, env=env)
            try:
                released = Path(json.JSONDecoder().raw_decode(out[out.index("{"):])[0]["Dir"])
            except (ValueError, KeyError):
                raise ScenarioFailure(f"go mod download {module} failed (go exit {rc})", tail(log)) from None
            client = work / f"client-go-{go_tls_backport.BASE_VERSION}-tls"
            stamp_file = CACHE_DIR / "stamps" / "go-tls-client"
            stamp = _hash_files([COMPAT_DIR / "harness" / "go_tls_backport.py"], str(released))
            if not (client.exists() and stamp_file.exists() and stamp_file.read_text() == stamp):
                try:
                    go_tls_backport.make_tree(released, client)
                except go_tls_backport.BackportError as e:
                    raise ScenarioFailure(f"client-go TLS backport: {e}") from None
                stamp_file.parent.mkdir(parents=True, exist_ok=True)
                stamp_file.write_text(stamp)
        modfile = work / "go.mod"
        shutil.copy(GO_TLS_DIR / "go.mod", modfile)
        shutil.copy(GO_TLS_DIR / "go.sum", work / "go.sum")
        out = CACHE_DIR / "bin" / "compat-go-tls"
        log = self.build_log_dir / "compat-go-tls-build.log"
        for argv in ([go, "mod", "edit", f"-modfile={modfile}",
                      f"-replace=github.com/apache/rocketmq-client-go/v2={client}"],
                     [go, "build", f"-modfile={modfile}", "-o", str(out), "."]):
            rc, _ = run(argv, GO_TIMEOUT, log, cwd=GO_TLS_DIR, env=env)
            if rc != 0:
                raise ScenarioFailure(f"building compat-tests/go-tls failed (go exit {rc})", tail(log))
        return out

    # ------------------------------------------------------------------ ours (Rust)

    def rust_binary(self, package: str, binary: str) -> Path:
        # cargo has its own lock on the target directory.
        return self._once(f"rust-{package}", lambda: self._build_rust(package, binary), shared_cache=False)

    def _build_rust(self, package: str, binary: str) -> Path:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        if not target.is_absolute():
            target = REPO_ROOT / target
        exe = target / "release" / binary
        if not self.cargo_build:
            if exe.exists():
                return exe
            raise ScenarioFailure(f"{exe} does not exist (and --no-cargo was given)")
        if not (REPO_ROOT / package / "Cargo.toml").exists():
            raise ScenarioFailure(f"our {binary} does not exist yet: no {package}/Cargo.toml in the repo")
        cargo = shutil.which("cargo")
        if cargo is None:
            raise ScenarioFailure("cargo is not installed")
        log = self.build_log_dir / f"cargo-{package}.log"
        rc, _ = run([cargo, "build", "--release", "-p", package, "--bin", binary], CARGO_TIMEOUT, log,
                    cwd=REPO_ROOT)
        if rc != 0:
            raise ScenarioFailure(f"cargo build --release -p {package} failed (exit {rc})", tail(log, 30))
        if not exe.exists():
            raise ScenarioFailure(f"cargo built {package} but {exe} is missing")
        return exe

