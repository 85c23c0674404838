"""Nameservers and brokers, Java reference or ours, started on free loopback ports.

A ``Cluster`` is one nameserver plus one master broker registered to it. Either
part is ``java`` (the reference from Maven Central), ``ours`` (the Rust binary
from this repository), or, for the nameserver, an address that is already
running (``--ns-addr``). Both implementations get the same config file, so
whatever differs in behaviour is the implementation's doing.

Directory layout of a cluster (all under the run's temporary directory):

    <dir>/namesrv/namesrv.properties, namesrv.log, home/   (HOME and user.home)
    <dir>/broker/broker.conf, broker.log, home/, store/
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import config
from .remoting import broker_registered
from .toolchain import Toolchain
from .util import LOOPBACK, Proc, ScenarioFailure, free_port, tail, wait_tcp, write_properties

IMPLS = ("java", "ours")


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return "java"


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["ROCKETMQ_HOME"] = str(home)
    env.pop("NAMESRV_ADDR", None)
    env.setdefault("RUST_LOG", "info")
    return env


class Server:
    """A started server process with a port and a log."""

    role = "server"

    def __init__(self, impl: str, dir: Path):
        self.impl = impl
        self.dir = dir
        self.home = dir / "home"
        self.port = 0
        self.proc: Proc | None = None
        self.log_path = dir / f"{self.role}.log"

    @property
    def addr(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self, grace: float = 3.0) -> None:
        """Stops the process. The harness does not test graceful shutdown (yet), and the Java
        broker takes well over 8 s to shut down, so the default grace period is short."""
        if self.proc is not None:
            self.proc.stop(grace)

    def log_tails(self) -> str:
        if self.proc is None and not self.log_path.exists():
            return f"    ({self.role} at {self.addr} was not started by the harness: no log)"
        parts = [tail(self.log_path, 12)]
        # The Java servers write their real logs under user.home/logs/rocketmqlogs.
        java_log = self.home / "logs" / "rocketmqlogs" / ("namesrv.log" if self.role == "namesrv"
                                                          else "broker.log")
        if java_log.exists():
            parts.append(tail(java_log, 8))
        return "\n".join(parts)


class NameServer(Server):
    role = "namesrv"

    def __init__(self, impl: str, dir: Path, toolchain: Toolchain, external_addr: str | None = None):
        super().__init__(impl, dir)
        self.toolchain = toolchain
        self.external_addr = external_addr
        self.conf_path = dir / "namesrv.properties"

    @property
    def addr(self) -> str:
        return self.external_addr or super().addr

    def start(self) -> None:
        if self.external_addr:
            host, _, port = self.external_addr.rpartition(":")
            self.port = int(port)
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        write_properties(self.conf_path, {"listenPort": self.port})
        if self.impl == "java":
            lib = self.toolchain.reference_lib(config.REFERENCE_VERSION)
            argv = [java_executable(), *config.NAMESRV_JVM, f"-Duser.home={self.home}",
                    "-cp", f"{lib}/*", "org.apache.rocketmq.namesrv.NamesrvStartup",
                    "-c", str(self.conf_path)]
        elif self.impl == "ours":
            exe = self.toolchain.rust_binary("namesrv", "mqnamesrv")
            argv = [str(exe), "-c", str(self.conf_path)]
        else:
            raise ScenarioFailure(f"unknown nameserver implementation {self.impl!r}")
        self.proc = Proc(f"{self.impl} namesrv", argv, self.log_path, cwd=self.dir, env=_env(self.home))
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)


class Broker(Server):
    role = "broker"

    def __init__(self, impl: str, dir: Path, toolchain: Toolchain, namesrv: NameServer):
        super().__init__(impl, dir)
        self.toolchain = toolchain
        self.namesrv = namesrv
        self.conf_path = dir / "broker.conf"
        self.store = dir / "store"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        # listenPort-2 is the Java broker's VIP channel and listenPort+1 its HA port.
        self.port = free_port(extra_offsets=(-2, -1, 1))
        conf = dict(config.BROKER_CONF)
        conf.update({
            "listenPort": self.port,
            "haListenPort": self.port + 1,
            "namesrvAddr": self.namesrv.addr,
            "storePathRootDir": self.store,
            "storePathCommitLog": self.store / "commitlog",
        })
        write_properties(self.conf_path, conf)
        if self.impl == "java":
            lib = self.toolchain.reference_lib(config.REFERENCE_VERSION)
            argv = [java_executable(), *config.BROKER_JVM, f"-Duser.home={self.home}",
                    "-cp", f"{lib}/*", "org.apache.rocketmq.broker.BrokerStartup",
                    "-c", str(self.conf_path), "-n", self.namesrv.addr]
        elif self.impl == "ours":
            exe = self.toolchain.rust_binary("broker", "mqbroker")
            argv = [str(exe), "-c", str(self.conf_path), "-n", self.namesrv.addr]
        else:
            raise ScenarioFailure(f"unknown broker implementation {self.impl!r}")
        self.proc = Proc(f"{self.impl} broker", argv, self.log_path, cwd=self.dir, env=_env(self.home))
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)

    def wait_registered(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            ok, why = broker_registered(self.namesrv.port, config.BROKER_NAME, self.addr)
            if ok:
                return
            if self.proc is not None and not self.proc.alive():
                raise ScenarioFailure(f"{self.impl} broker exited with code {self.proc.popen.returncode}",
                                      self.log_tails())
            if time.monotonic() > deadline:
                raise ScenarioFailure(
                    f"{self.impl} broker {self.addr} not registered with {self.namesrv.impl} namesrv "
                    f"{self.namesrv.addr} after {timeout:.0f} s ({why})",
                    self.log_tails() + "\n" + self.namesrv.log_tails())
            time.sleep(0.5)


@dataclass(frozen=True)
class ClusterSpec:
    """What to start. ``key`` names the instance: scenarios with the same key share it."""
    key: str
    ns: str
    broker: str

    def describe(self) -> str:
        return f"namesrv={self.ns} broker={self.broker}"  # --ns-addr is added by the caller


class Cluster:
    def __init__(self, spec: ClusterSpec, dir: Path, toolchain: Toolchain, ns_addr: str | None = None):
        self.spec = spec
        self.dir = dir
        self.namesrv = NameServer(spec.ns, dir / "namesrv", toolchain, external_addr=ns_addr)
        self.broker = Broker(spec.broker, dir / "broker", toolchain, self.namesrv)

    def start(self) -> None:
        try:
            try:
                self.namesrv.start()
            except ScenarioFailure as e:
                raise ScenarioFailure(f"{self.spec.ns} namesrv: {e.reason}", e.detail) from None
            try:
                self.broker.start()
            except ScenarioFailure as e:
                raise ScenarioFailure(f"{self.spec.broker} broker: {e.reason}", e.detail) from None
            self.broker.wait_registered(config.BROKER_REGISTER_TIMEOUT)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        # Broker first: it unregisters from a nameserver that is still there.
        self.broker.stop()
        self.namesrv.stop()

    def alive_check(self) -> None:
        """Raises if a server of this cluster has died since it started."""
        for s in (self.namesrv, self.broker):
            if s.proc is not None and not s.proc.alive():
                raise ScenarioFailure(f"{s.impl} {s.role} died (exit {s.proc.popen.returncode})",
                                      s.log_tails())

    def port_roles(self) -> dict[int, str]:
        """Ports of this cluster and the role names they are normalised to in outputs."""
        p = self.broker.port
        return {self.namesrv.port: "NAMESRV_PORT", p: "BROKER_PORT", p + 1: "BROKER_HA_PORT",
                p - 2: "BROKER_VIP_PORT"}

    def log_tails(self) -> str:
        return self.namesrv.log_tails() + "\n" + self.broker.log_tails()
