"""SQL92 property filtering (``enablePropertyFilter``) with the official Java clients.

``clients/java-<v>/sql92-filter``: against a cluster of its own whose broker.conf adds
``enablePropertyFilter=true`` to the common keys (key ``sql92``: our broker, and the nameserver
``--ns`` names; ``COMPAT_SQL92_BROKER=java`` runs it against the Java reference broker instead,
to check the scenario itself), the Java client 4.9.8 resp. 5.5.0 sends 40 messages with user
properties, then

* a push consumer with ``MessageSelector.bySql("a > 5 AND b = 'x'")`` must receive exactly the
  matching messages (the broker filters with the expression registered by heartbeat);
* a lite pull consumer with ``a BETWEEN 10 AND 20 OR TAGS = 'T2'`` likewise (the expression
  travels with each pull);
* a push consumer with a malformed expression must fail in ``start()``: the broker answers the
  client's CHECK_CLIENT_CONFIG with SUBSCRIPTION_PARSE_FAILED (23).

The checking is done by ``compat.Sql92Filter`` (java/src/main/java/compat/Sql92Filter.java),
which has its own ``main``.
"""

from __future__ import annotations

import os
import time

from .. import config
from ..scenario import check_program, scenario
from ..servers import Broker, Cluster, ClusterSpec, _env, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import Proc, ScenarioFailure, free_port, run, wait_tcp, write_properties

SQL92 = "sql92"
EXTRA_CONF = {"enablePropertyFilter": "true"}
TIMEOUT = 90  # s, the program's own limit


class FilterBroker(Broker):
    """The harness broker with ``EXTRA_CONF`` added to its broker.conf."""

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port(extra_offsets=(-2, -1, 1))
        conf = dict(config.BROKER_CONF)
        conf.update(EXTRA_CONF)
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
        else:
            exe = self.toolchain.rust_binary("broker", "mqbroker")
            argv = [str(exe), "-c", str(self.conf_path), "-n", self.namesrv.addr]
        self.proc = Proc(f"{self.impl} broker", argv, self.log_path, cwd=self.dir, env=_env(self.home))
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)


def _cluster(ctx) -> Cluster:
    """The ``sql92`` cluster, started on first use and kept in ``ctx.clusters`` so that the runner
    stops it after the last scenario naming the key (and shows its logs on failure)."""
    failed = ctx.memo.get((SQL92, "failure"))
    if failed is not None:
        raise ScenarioFailure(failed.reason, "    (logs: see the first failure of this cluster above)")
    c = ctx.clusters.get(SQL92)
    if c is None:
        broker_impl = os.environ.get("COMPAT_SQL92_BROKER", "ours")
        spec = ClusterSpec(SQL92, ctx.options.ns, broker_impl)
        c = Cluster(spec, ctx.run_dir / "clusters" / SQL92, ctx.toolchain)
        c.broker = FilterBroker(broker_impl, c.broker.dir, ctx.toolchain, c.namesrv)
        t0 = time.monotonic()
        try:
            c.start()
        except ScenarioFailure as e:
            f = ScenarioFailure(f"cluster {SQL92} ({spec.describe()}) did not start: {e.reason}", e.detail)
            ctx.memo[(SQL92, "failure")] = f
            raise f from None
        ctx.clusters[SQL92] = c
        ctx.note(f"cluster {SQL92} ({spec.describe()}, {EXTRA_CONF}) up in {time.monotonic() - t0:.1f} s: "
                 f"namesrv {c.namesrv.addr}, broker {c.broker.addr}")
    c.alive_check()
    return c


def _java_sql92(version: str):
    def run_case(ctx):
        c = _cluster(ctx)
        cp = ctx.toolchain.java_classpath(version)
        home = ctx.run_dir / "client-home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)
        env.pop("NAMESRV_ADDR", None)
        cmd = [java_executable(), *config.CLIENT_JVM, f"-Duser.home={home}",
               f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
               "-cp", cp, "compat.Sql92Filter", "--ns", c.namesrv.addr, "--broker", c.broker.addr,
               "--timeout-ms", str(TIMEOUT * 1000)]
        log = ctx.log_path("java")
        rc, out = run(cmd, TIMEOUT + 30, log, env=env)
        check_program(rc, out, f"java client {version}", log)
        want = "client V" + version.replace(".", "_")
        if want not in out:
            raise ScenarioFailure(f"expected the program to report '{want}' (wrong classpath?)")
    return run_case


for _v in config.JAVA_CLIENT_VERSIONS:
    scenario(f"clients/java-{_v}/sql92-filter", tags=("broker", "clients", "java", "sql92"),
             clusters=(SQL92,))(_java_sql92(_v))
