"""ACL 1.0 and TLS with the official Java clients against our broker.

``clients/java-<v>/acl``: a cluster of its own (key ``security-acl``: our broker, the nameserver
``--ns`` names) whose broker.conf adds ``aclEnable=true`` and ``rocketmqHome`` (holding
``conf/plain_acl.yml`` with a non-admin account allowed PUB|SUB on the test topic and SUB on its
group, DENY on another topic, and an admin account). The Java client 4.9.8 resp. 5.5.0 with
``AclClientRPCHook(new SessionCredentials(ak, sk))`` (``compat.SecurityAcl``): a topic creation by
the non-admin account is refused, the admin account creates the topic, the non-admin account sends
and push-consumes every message, a wrong secret key and the DENY topic are refused with
SYSTEM_ERROR and the AclException text. The Java reference 5.5.0 no longer has ACL 1.0
(``aclEnable`` is read by nothing there), so this scenario has no Java self-check.

``clients/java-<v>/tls``: a cluster of its own (key ``security-tls``) whose broker runs in
``tls.server.mode=enforcing`` (our broker reads it from broker.conf; the Java broker, with
``COMPAT_SECURITY_BROKER=java`` as a self-check of the scenario, from ``-Dtls.server.mode``); the
nameserver stays in the default permissive mode, so the harness' plaintext probes keep working.
The Java client runs with ``-Dtls.enable=true`` (test mode: self-signed server certificates are
trusted) and ``compat.SecurityTls`` creates a topic, sends and consumes over TLS, then checks that a
producer with ``setUseTLS(false)`` cannot send to the broker.
"""

from __future__ import annotations

import os
import time

from .. import config
from ..scenario import check_program, scenario
from ..servers import Broker, Cluster, ClusterSpec, _env, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import Proc, ScenarioFailure, free_port, run, wait_tcp, write_properties

ACL = "security-acl"
TLS = "security-tls"
TIMEOUT = 90  # s, the program's own limit

ACL_USER = ("compatUser", "compatUserSecret")
ACL_ADMIN = ("compatAdmin", "compatAdminSecret")
ACL_TOPIC = "compat_acl_topic"
ACL_GROUP = "GID_compat_acl"
ACL_DENIED = "compat_acl_denied"

PLAIN_ACL_YML = f"""\
globalWhiteRemoteAddresses:
accounts:
  - accessKey: {ACL_USER[0]}
    secretKey: {ACL_USER[1]}
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - {ACL_TOPIC}=PUB|SUB
      - {ACL_DENIED}=DENY
    groupPerms:
      - {ACL_GROUP}=SUB
  - accessKey: {ACL_ADMIN[0]}
    secretKey: {ACL_ADMIN[1]}
    whiteRemoteAddress:
    admin: true
"""


class SecurityBroker(Broker):
    """The harness broker with extra broker.conf keys (ours) or system properties (Java), and
    optional files under its home directory."""

    def __init__(self, *args, extra_conf: dict, java_props: dict, home_files: dict):
        super().__init__(*args)
        self.extra_conf = extra_conf
        self.java_props = java_props
        self.home_files = home_files

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        for rel, text in self.home_files.items():
            path = self.home / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        self.port = free_port(extra_offsets=(-2, -1, 1))
        conf = dict(config.BROKER_CONF)
        conf.update({k: (v.format(home=self.home) if isinstance(v, str) else v)
                     for k, v in self.extra_conf.items()})
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
            props = [f"-D{k}={v}" for k, v in self.java_props.items()]
            argv = [java_executable(), *config.BROKER_JVM, *props, f"-Duser.home={self.home}",
                    "-cp", f"{lib}/*", "org.apache.rocketmq.broker.BrokerStartup",
                    "-c", str(self.conf_path), "-n", self.namesrv.addr]
        else:
            exe = self.toolchain.rust_binary("broker", "mqbroker")
            argv = [str(exe), "-c", str(self.conf_path), "-n", self.namesrv.addr]
        self.proc = Proc(f"{self.impl} broker", argv, self.log_path, cwd=self.dir, env=_env(self.home))
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)


def _cluster(ctx, key: str, broker_impl: str, **broker_kw) -> Cluster:
    """The cluster ``key``, started on first use and kept in ``ctx.clusters`` so that the runner
    stops it after the last scenario naming the key (and shows its logs on failure)."""
    failed = ctx.memo.get((key, "failure"))
    if failed is not None:
        raise ScenarioFailure(failed.reason, "    (logs: see the first failure of this cluster above)")
    c = ctx.clusters.get(key)
    if c is None:
        spec = ClusterSpec(key, ctx.options.ns, broker_impl)
        c = Cluster(spec, ctx.run_dir / "clusters" / key, ctx.toolchain)
        c.broker = SecurityBroker(broker_impl, c.broker.dir, ctx.toolchain, c.namesrv, **broker_kw)
        t0 = time.monotonic()
        try:
            c.start()
        except ScenarioFailure as e:
            f = ScenarioFailure(f"cluster {key} ({spec.describe()}) did not start: {e.reason}", e.detail)
            ctx.memo[(key, "failure")] = f
            raise f from None
        ctx.clusters[key] = c
        ctx.note(f"cluster {key} ({spec.describe()}) up in {time.monotonic() - t0:.1f} s: "
                 f"namesrv {c.namesrv.addr}, broker {c.broker.addr}")
    c.alive_check()
    return c


def _run_java(ctx, version: str, jvm_props: list[str], main: str, args: list[str]) -> None:
    cp = ctx.toolchain.java_classpath(version)
    home = ctx.run_dir / "client-home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)
    env.pop("NAMESRV_ADDR", None)
    cmd = [java_executable(), *config.CLIENT_JVM, *jvm_props, f"-Duser.home={home}",
           f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
           "-cp", cp, main, *args, "--timeout-ms", str(TIMEOUT * 1000)]
    log = ctx.log_path("java")
    rc, out = run(cmd, TIMEOUT + 30, log, env=env)
    check_program(rc, out, f"java client {version}", log)
    want = "client V" + version.replace(".", "_")
    if want not in out:
        raise ScenarioFailure(f"expected the program to report '{want}' (wrong classpath?)")


def _java_acl(version: str):
    def run_case(ctx):
        c = _cluster(ctx, ACL, "ours",
                     extra_conf={"aclEnable": "true", "rocketmqHome": "{home}"},
                     java_props={}, home_files={"conf/plain_acl.yml": PLAIN_ACL_YML})
        _run_java(ctx, version, [], "compat.SecurityAcl", [
            "--ns", c.namesrv.addr, "--broker", c.broker.addr,
            "--ak", ACL_USER[0], "--sk", ACL_USER[1],
            "--admin-ak", ACL_ADMIN[0], "--admin-sk", ACL_ADMIN[1],
            "--topic", ACL_TOPIC, "--group", ACL_GROUP, "--denied-topic", ACL_DENIED])
    return run_case


def _java_tls(version: str):
    def run_case(ctx):
        impl = os.environ.get("COMPAT_SECURITY_BROKER", "ours")
        c = _cluster(ctx, TLS, impl,
                     extra_conf={"tls.server.mode": "enforcing"},
                     java_props={"tls.server.mode": "enforcing"}, home_files={})
        _run_java(ctx, version, ["-Dtls.enable=true"], "compat.SecurityTls",
                  ["--ns", c.namesrv.addr, "--broker", c.broker.addr])
    return run_case


for _v in config.JAVA_CLIENT_VERSIONS:
    scenario(f"clients/java-{_v}/acl", tags=("broker", "clients", "java", "security"),
             clusters=(ACL,))(_java_acl(_v))
    scenario(f"clients/java-{_v}/tls", tags=("broker", "clients", "java", "security"),
             clusters=(TLS,))(_java_tls(_v))
