"""Broker core end to end (issue 4): the official clients against OUR broker and OUR nameserver.

Every scenario runs with the Java client 4.9.8, the Java client 5.5.0 and the Go client
2.1.2 (Go: where it has the feature; it has all of them here, its pull consumer stands in for
the lite pull consumer). The programs are ``compat.Core <case>`` (java/.../Core*.java) and
``compat-go core-<case>`` (go/core.go); they do the checking and print ``OK`` last.

Clusters, whatever ``--broker`` says (``--core-broker java`` / ``--core-ns java`` point them
at the Java reference instead, to check a scenario itself):

| key | broker.conf on top of the common one | used by |
| --- | --- | --- |
| ``core`` | (none) | send-modes, clustering, broadcasting, lite-pull-*, ordered, tags, timer |
| ``core-restart`` | flushConsumerOffsetInterval=1000 | restart-clean (SIGTERM, restart) |
| ``core-kill`` | flushDiskType=SYNC_FLUSH, flushConsumerOffsetInterval=1000 | restart-kill9 |
| ``core-bulk-<client>`` | (none) | bulk (deleted right after, with its store) |

Restarts: the program marks gates (files in a directory, see CoreSupport.Gate); the harness
then stops the broker (SIGTERM and wait for it to exit by itself, or SIGKILL of its process
group), starts it again on the same port and store directory, waits until it is registered,
and releases the gate. The scenario: a restart in the middle of production (sends go on,
failures are retried, only SEND_OK counts as acknowledged), one between production and
consumption, one in the middle of consumption, and one after the consumer committed its
offsets; no acknowledged message may be missing, and a new consumer of the group must resume
at the committed offsets (only the messages sent after the last restart).

Bulk: ``COMPAT_BULK_MESSAGES`` messages (default 1000000) of 1 KiB, async batches, every body
compared; ``COMPAT_BULK_TIMEOUT`` seconds at most (default 240).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

from .. import config
from ..remoting import broker_registered
from ..scenario import CLUSTER_CLASSES, EXTRA_SPECS, check_program, scenario
from ..servers import Broker, Cluster, ClusterSpec, _env, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import Proc, ScenarioFailure, free_port, last_line, run, wait_tcp, write_properties

CORE = "core"
CORE_RESTART = "core-restart"
CORE_KILL = "core-kill"

JAVA_VERSIONS = config.JAVA_CLIENT_VERSIONS
GO = f"go-{config.GO_CLIENT_VERSION}"
CLIENTS = tuple(f"java-{v}" for v in JAVA_VERSIONS) + (GO,)

# s, the program's own limit for an ordinary case: normally done in 1-11 s, but a 5.5.0 push consumer
# can stall 30 s on SUBSCRIPTION_NOT_LATEST (README, facts), with either broker.
SCENARIO_TIMEOUT = 90
# s, restart cases: four restarts of ours take a second each, of the Java broker 30-60 s each on a
# loaded 2-core machine (SIGTERM to exit ~10 s, start to registration ~30 s).
RESTART_TIMEOUT = {"ours": 180, "java": 600}
JAVA_STOP_GRACE = 90.0         # s, SIGTERM to exit of a broker stopped cleanly
BULK_MESSAGES = int(os.environ.get("COMPAT_BULK_MESSAGES", "1000000"))
BULK_TIMEOUT = int(os.environ.get("COMPAT_BULK_TIMEOUT", "240"))
# The bulk client runs with the full JIT (C2): TieredStopAtLevel=1 halves its throughput.
BULK_JVM = [f for f in config.CLIENT_JVM if not f.startswith("-XX:TieredStopAtLevel")
            and not f.startswith("-Xmx")] + ["-Xmx512m"]


# ============================================================================ clusters

class CoreBroker(Broker):
    """A broker with extra broker.conf keys that can be restarted on the same port and store."""

    extra: dict[str, object] = {}

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.port:  # a restart keeps the port
            self.port = free_port(extra_offsets=(-2, -1, 1))
        conf = dict(config.BROKER_CONF)
        conf.update({
            "listenPort": self.port,
            "haListenPort": self.port + 1,
            "namesrvAddr": self.namesrv.addr,
            "storePathRootDir": self.store,
            "storePathCommitLog": self.store / "commitlog",
        })
        conf.update(self.extra)
        write_properties(self.conf_path, conf)
        if self.impl == "java":
            lib = self.toolchain.reference_lib(config.REFERENCE_VERSION)
            argv = [java_executable(), *config.BROKER_JVM, f"-Duser.home={self.home}",
                    "-cp", f"{lib}/*", "org.apache.rocketmq.broker.BrokerStartup",
                    "-c", str(self.conf_path), "-n", self.namesrv.addr]
        else:
            exe = self.toolchain.rust_binary("broker", "mqbroker")
            argv = [str(exe), "-c", str(self.conf_path), "-n", self.namesrv.addr]
        self.proc = Proc(f"{self.impl} broker", argv, self.log_path, cwd=self.dir, env=_env(self.home))
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)

    def stop_clean(self) -> float:
        """SIGTERM; the broker must exit by itself and leave no abort file. Returns the seconds it took."""
        t0 = time.monotonic()
        self.proc.stop(JAVA_STOP_GRACE)
        took = time.monotonic() - t0
        if self.proc.popen.returncode == -signal.SIGKILL:
            raise ScenarioFailure(f"{self.impl} broker still running {JAVA_STOP_GRACE:.0f} s after SIGTERM",
                                  self.log_tails())
        if (self.store / "abort").exists():
            raise ScenarioFailure(f"{self.impl} broker left {self.store / 'abort'} after SIGTERM: "
                                  "not a clean shutdown", self.log_tails())
        return took

    def kill9(self) -> None:
        """SIGKILL to the broker's process group: no shutdown code runs."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.popen.wait(timeout=30)
        self.proc.stop(0)  # bookkeeping only: closes the log, forgets the process
        if not (self.store / "abort").exists():
            raise ScenarioFailure(f"{self.impl} broker had no {self.store / 'abort'} file while running: "
                                  "a kill -9 would not be noticed at restart", self.log_tails())

    def restart(self, kill: bool) -> str:
        """Stops (cleanly, or kill -9) and starts the broker on the same port and store; waits until it is
        registered. Returns a short description with timings."""
        t0 = time.monotonic()
        if kill:
            self.kill9()
            how = "kill -9"
            # The nameserver drops the registration when the connection closes; wait for that (best
            # effort) so that the registration seen below is the new process's.
            until = time.monotonic() + 5
            while time.monotonic() < until:
                if not broker_registered(self.namesrv.port, config.BROKER_NAME, self.addr)[0]:
                    break
                time.sleep(0.1)
        else:
            took = self.stop_clean()
            how = f"SIGTERM (exited in {took:.1f} s)"
        t1 = time.monotonic()
        try:
            self.start()
        except ScenarioFailure as e:
            raise ScenarioFailure(f"{self.impl} broker did not come back after {how}: {e.reason}", e.detail)
        self.wait_registered(config.BROKER_REGISTER_TIMEOUT)
        return f"{how}, back and registered {time.monotonic() - t1:.1f} s later (total {time.monotonic() - t0:.1f} s)"


def _cluster_class(extra: dict[str, object]):
    broker_cls = type("CoreBrokerWithConf", (CoreBroker,), {"extra": dict(extra)})

    class CoreCluster(Cluster):
        def __init__(self, spec, dir, toolchain, ns_addr=None):
            super().__init__(spec, dir, toolchain, ns_addr)
            self.broker = broker_cls(spec.broker, dir / "broker", toolchain, self.namesrv)

    return CoreCluster


def _define_cluster(key: str, extra: dict[str, object]) -> str:
    EXTRA_SPECS[key] = lambda o, key=key: ClusterSpec(key, o.core_ns, o.core_broker)
    CLUSTER_CLASSES[key] = _cluster_class(extra)
    return key


_define_cluster(CORE, {})
_define_cluster(CORE_RESTART, {"flushConsumerOffsetInterval": 1000})
_define_cluster(CORE_KILL, {"flushDiskType": "SYNC_FLUSH", "flushConsumerOffsetInterval": 1000})


def _bulk_key(client: str) -> str:
    return f"core-bulk-{client}"


for _c in CLIENTS:
    _define_cluster(_bulk_key(_c), {})


# ============================================================================ programs

def _command(ctx, client: str, case: str, opts: dict[str, object], timeout: float,
             jvm: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line of ``case`` for ``client`` (java-<v> or go-<v>), with ``--key value`` options."""
    if client.startswith("java-"):
        version = client[len("java-"):]
        cp = ctx.toolchain.java_classpath(version)
        home = ctx.run_dir / "client-home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)
        env.pop("NAMESRV_ADDR", None)
        args = []
        for k, v in opts.items():
            args += [f"--{k}", str(v)]
        cmd = [java_executable(), *(jvm or config.CLIENT_JVM), f"-Duser.home={home}",
               f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
               "-cp", cp, "compat.Core", case, *args, "--timeout-ms", str(int(timeout * 1000))]
        return cmd, env
    exe = ctx.toolchain.go_binary()
    env = dict(os.environ)
    env["HOME"] = str(ctx.run_dir / "client-home")
    args = []
    for k, v in opts.items():
        args += [f"-{k}", str(v)]
    return [str(exe), f"core-{case}", *args, "-timeout", f"{int(timeout)}s"], env


def _what(client: str) -> str:
    return client.replace("-", " client ", 1)


def _report(ctx, out: str) -> None:
    for line in out.splitlines():
        line = line.strip()
        if line.startswith(("sent ", "produced", "consumed", "polled", "seek", "push:", "broker-side",
                            "consumers split", "each consumer", "assignment", "a new consumer",
                            "scenario took", "restart:")):
            ctx.note(line)


def _run_case(ctx, client: str, case: str, key: str, opts: dict[str, object], timeout: float = SCENARIO_TIMEOUT,
              jvm: list[str] | None = None) -> str:
    c = ctx.cluster(key)
    base = {"ns": c.namesrv.addr, "broker": c.broker.addr, "broker-name": config.BROKER_NAME}
    base.update(opts)
    cmd, env = _command(ctx, client, case, base, timeout, jvm)
    log = ctx.log_path(client)
    rc, out = run(cmd, timeout + 30, log, env=env)
    _report(ctx, out)
    check_program(rc, out, _what(client), log)
    if client.startswith("java-"):
        want = "client V" + client[len("java-"):].replace(".", "_")
        if want not in out:
            raise ScenarioFailure(f"expected the program to report '{want}' (wrong classpath?)")
    c.alive_check()
    return out


# ============================================================================ scenarios

def _simple(client: str, case: str, opts: dict[str, object]):
    def fn(ctx):
        _run_case(ctx, client, case, CORE, opts)
    return fn


CASES = (
    ("send-modes", "send-modes", {"n": 40}),
    ("clustering", "groups", {"mode": "clustering", "n": 80}),
    ("broadcasting", "groups", {"mode": "broadcasting", "n": 80}),
    ("lite-pull-subscribe", "lite-pull", {"mode": "subscribe", "n": 80}),
    ("lite-pull-assign-seek", "lite-pull", {"mode": "assign", "n": 80}),
    ("ordered", "ordered", {"n": 160}),
    ("tags", "tags", {"n": 120}),
)

for _name, _case, _opts in CASES:
    for _client in CLIENTS:
        scenario(f"broker/{_client}/{_name}", tags=("broker", "core", _client.split("-")[0]),
                 clusters=(CORE,))(_simple(_client, _case, _opts))


# Timer messages (5.x deliver times; the 4.9.8 client sets the properties by hand). Java clients
# only: the Go client 2.1.2 has no deliver-time API.
for _client in CLIENTS:
    if _client.startswith("java-"):
        scenario(f"broker/{_client}/timer", tags=("broker", "core", "timer", "java"),
                 clusters=(CORE,))(_simple(_client, "timer", {"n": 12}))


GATES = ("produce", "produced", "consume", "consumed")


def _restart_case(client: str, key: str, kill: bool):
    def fn(ctx):
        c = ctx.cluster(key)
        gate_dir = ctx.run_dir / "gates" / ctx.current.replace("/", "_")
        gate_dir.mkdir(parents=True, exist_ok=True)
        opts = {"ns": c.namesrv.addr, "broker": c.broker.addr, "broker-name": config.BROKER_NAME,
                "n": 400, "m": 20, "gate-dir": gate_dir}
        timeout = RESTART_TIMEOUT[ctx.options.core_broker]
        cmd, env = _command(ctx, client, "restart", opts, timeout)
        log = ctx.log_path(client)
        proc = Proc(_what(client), cmd, log, env=env)
        deadline = time.monotonic() + timeout + 30
        done: list[str] = []
        try:
            while proc.alive():
                if time.monotonic() > deadline:
                    raise ScenarioFailure(f"{_what(client)}: time limit exceeded (gates passed: {done})",
                                          f"    full output: {log}")
                for g in GATES:
                    if g not in done and (gate_dir / f"{g}.mark").exists():
                        if kill and g == "consumed":
                            # Committed offsets reach the disk every flushConsumerOffsetInterval (1 s).
                            time.sleep(2.5)
                        what = c.broker.restart(kill)
                        ctx.note(f"restart: gate {g}: {what}")
                        done.append(g)
                        (gate_dir / f"{g}.release").write_text("go")
                time.sleep(0.05)
        finally:
            proc.stop(2.0)
        out = log.read_text(encoding="utf-8", errors="replace")
        _report(ctx, out)
        rc = proc.popen.returncode
        if rc == 0 and len(done) != len(GATES):
            raise ScenarioFailure(f"{_what(client)}: passed only gates {done} of {list(GATES)}")
        # The log ends with the harness's own "[harness] exited ..." line.
        out = "\n".join(ln for ln in out.splitlines() if not ln.startswith("[harness]"))
        check_program(rc, out, _what(client), log)
        c.alive_check()
    return fn


for _client in CLIENTS:
    scenario(f"broker/{_client}/restart-clean", tags=("broker", "core", "restart", _client.split("-")[0]),
             clusters=(CORE_RESTART,))(_restart_case(_client, CORE_RESTART, kill=False))
for _client in CLIENTS:
    scenario(f"broker/{_client}/restart-kill9", tags=("broker", "core", "restart", _client.split("-")[0]),
             clusters=(CORE_KILL,))(_restart_case(_client, CORE_KILL, kill=True))


def _bulk_case(client: str):
    key = _bulk_key(client)

    def fn(ctx):
        try:
            t0 = time.monotonic()
            _run_case(ctx, client, "bulk", key, {"n": BULK_MESSAGES, "size": 1024}, timeout=BULK_TIMEOUT,
                      jvm=BULK_JVM)
            ctx.note(f"bulk: {BULK_MESSAGES} messages in {time.monotonic() - t0:.1f} s")
        finally:
            c = ctx.clusters.get(key)
            ctx.stop_cluster(key)
            if c is not None:  # a GiB of CommitLog: not kept, even when the run directory is
                shutil.rmtree(c.broker.store, ignore_errors=True)
    return fn


for _client in CLIENTS:
    scenario(f"broker/{_client}/bulk", tags=("broker", "core", "bulk", _client.split("-")[0]),
             clusters=(_bulk_key(_client),))(_bulk_case(_client))
