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

``clients/java-4.9.8/acl-admin``: a cluster of its own (key ``security-acl-admin``, our broker
with the same ACL setup). mqadmin 4.9.8 (``MQAdminStartup`` in one JVM, ``compat.AdminBatch``) signs
with the admin account from ``$ROCKETMQ_HOME/conf/tools.yml`` as the real tool does:
``updateAclConfig`` creates a new account (PUB|SUB on the test topic, DENY on the other, SUB on the
group), ``clusterAclConfigVersion`` lists plain_acl.yml with its advanced version; the new account
then passes the whole ``compat.SecurityAcl`` check (Java client 4.9.8), ``deleteAccessConfig``
removes it, and a send with it is refused ("No acl config for ..."). Java 5.x tools and brokers
dropped these commands with ACL 1.0, so there is no 5.5.0 variant and no Java self-check.

``clients/go-2.1.2/acl``: the ``security-acl`` cluster; rocketmq-client-go v2.1.2 with
``WithCredentials(primitive.Credentials{...})`` (``compat-go acl``): the admin account creates the
topics, the non-admin account sends and push-consumes every message, a wrong secret key and the
DENY topic are refused with "CODE: 1" and the AclException text. (The Go admin API does not report
a broker's refusal, so the non-admin topic creation is left to the Java scenario.)

``clients/java-<v>/tls``: a cluster of its own (key ``security-tls``) whose broker runs in
``tls.server.mode=enforcing`` (our broker reads it from broker.conf; the Java broker, with
``COMPAT_SECURITY_BROKER=java`` as a self-check of the scenario, from ``-Dtls.server.mode``); the
nameserver stays in the default permissive mode, so the harness' plaintext probes keep working.
The Java client runs with ``-Dtls.enable=true`` (test mode: self-signed server certificates are
trusted) and ``compat.SecurityTls`` creates a topic, sends and consumes over TLS, then checks that a
producer with ``setUseTLS(false)`` cannot send to the broker.

``clients/go-2.1.2+tls/tls``: the ``security-tls`` cluster; compat-tests/go-tls (its own module)
with ``WithTls(true)`` on admin, producer and push consumer (client-go's TLS applies to every
connection, nameserver included; ours accepts it in permissive mode): creates a topic, sends 20
messages synchronously, push-consumes and checks every body, then a ``WithTls(false)`` producer
must fail to send. Released client-go v2.1.2 has no TLS; the harness re-applies upstream's TLS
change (commit c9e197c) to it (harness/go_tls_backport.py), or builds against the client-go tree
named by ``COMPAT_GO_TLS_CLIENT_SRC`` (e.g. a master checkout).
"""

from __future__ import annotations

import os
import shutil
import time

from .. import config
from ..scenario import check_program, scenario
from ..servers import Broker, Cluster, ClusterSpec, _env, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import Proc, ScenarioFailure, free_port, run, wait_tcp, write_properties

ACL = "security-acl"
ACL_ADMIN_CLUSTER = "security-acl-admin"
ACL_NEW_USER = ("compatNewUser", "compatNewUserSecret")
TLS = "security-tls"
TIMEOUT = 90  # s, the program's own limit
GO_TLS_CLIENT = "2.1.2+tls"  # v2.1.2 + upstream's TLS change (harness/go_tls_backport.py)

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
      - {ACL_TOPIC}_go=PUB|SUB
      - {ACL_DENIED}=DENY
    groupPerms:
      - {ACL_GROUP}=SUB
      - {ACL_GROUP}_go=SUB
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


def _admin_batch(ctx, version: str, tools_home, ns: str, lines: list[list[str]], what: str) -> list[str]:
    """Runs mqadmin ``version`` commands in one JVM with ``ROCKETMQ_HOME=tools_home`` (its
    conf/tools.yml holds the credentials the tool signs with); returns each command's output."""
    work = ctx.run_dir / "mqadmin-acl" / what
    out_dir = work / "out"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "script.txt"
    script.write_text("".join("\t".join(argv) + "\n" for argv in lines), encoding="utf-8")
    env = dict(os.environ)
    env["ROCKETMQ_HOME"] = str(tools_home)
    env.pop("NAMESRV_ADDR", None)
    client_home = ctx.run_dir / "client-home"
    client_home.mkdir(parents=True, exist_ok=True)
    cmd = [java_executable(), *config.CLIENT_JVM, f"-Duser.home={client_home}",
           f"-Dlogback.configurationFile={tools_home / 'conf' / 'logback_tools.xml'}",
           "-cp", ctx.toolchain.java_classpath(version), "compat.Main", "admin-batch",
           "--ns", ns, "--script", str(script), "--out", str(out_dir),
           "--command-timeout-ms", "30000", "--hard-timeout-ms", str(TIMEOUT * 1000),
           "--timeout-ms", str(TIMEOUT * 1000)]
    log = ctx.log_path(f"mqadmin-{what}")
    rc, out = run(cmd, TIMEOUT + 30, log, env=env)
    outputs = []
    for i in range(len(lines)):
        p = out_dir / f"{i}.out"
        outputs.append(p.read_text(encoding="utf-8", errors="replace") if p.exists() else "")
    if rc != 0:
        raise ScenarioFailure(f"mqadmin {version} batch exit {rc}", f"    full output: {log}")
    return outputs


def _expect(output: str, want: str, what: str) -> None:
    if want not in output:
        raise ScenarioFailure(f"mqadmin {what}: expected '{want}' in its output",
                              "    " + output.strip().replace("\n", "\n    ")[-2000:])


def _mqadmin_acl_admin(version: str):
    def run_case(ctx):
        c = _cluster(ctx, ACL_ADMIN_CLUSTER, "ours",
                     extra_conf={"aclEnable": "true", "rocketmqHome": "{home}"},
                     java_props={}, home_files={"conf/plain_acl.yml": PLAIN_ACL_YML})
        tools = ctx.run_dir / "mqadmin-acl-home"
        (tools / "conf").mkdir(parents=True, exist_ok=True)
        (tools / "conf" / "tools.yml").write_text(
            f"accessKey: {ACL_ADMIN[0]}\nsecretKey: {ACL_ADMIN[1]}\n")
        shutil.copy(REFERENCE_DIR / "conf" / "logback_tools.xml", tools / "conf" / "logback_tools.xml")
        broker = c.broker.addr
        acl_file = c.broker.home / "conf" / "plain_acl.yml"
        ak, sk = ACL_NEW_USER
        outs = _admin_batch(ctx, version, tools, c.namesrv.addr, [
            ["updateAclConfig", "-b", broker, "-a", ak, "-s", sk, "-i", "DENY", "-u", "DENY",
             "-t", f"{ACL_TOPIC}=PUB|SUB,{ACL_DENIED}=DENY", "-g", f"{ACL_GROUP}=SUB", "-m", "false"],
            ["clusterAclConfigVersion", "-n", c.namesrv.addr, "-c", config.CLUSTER_NAME],
        ], "update")
        _expect(outs[0], f"create or update plain access config to {broker} success.", "updateAclConfig")
        _expect(outs[1], "get cluster's plain access config version success.", "clusterAclConfigVersion")
        _expect(outs[1], str(acl_file), "clusterAclConfigVersion")
        if ak not in acl_file.read_text():
            raise ScenarioFailure(f"{acl_file} does not hold the new account after updateAclConfig")
        _run_java(ctx, version, [], "compat.SecurityAcl", [
            "--ns", c.namesrv.addr, "--broker", broker, "--ak", ak, "--sk", sk,
            "--admin-ak", ACL_ADMIN[0], "--admin-sk", ACL_ADMIN[1],
            "--topic", ACL_TOPIC, "--group", ACL_GROUP, "--denied-topic", ACL_DENIED])
        outs = _admin_batch(ctx, version, tools, c.namesrv.addr, [
            ["deleteAccessConfig", "-b", broker, "-a", ak],
        ], "delete")
        _expect(outs[0], f"delete plain access config account from {broker} success.", "deleteAccessConfig")
        if ak in acl_file.read_text():
            raise ScenarioFailure(f"{acl_file} still holds the account after deleteAccessConfig")
        _run_java(ctx, version, [], "compat.SecurityAcl", [
            "--ns", c.namesrv.addr, "--broker", broker, "--ak", ak, "--sk", sk,
            "--topic", ACL_TOPIC, "--group", ACL_GROUP, "--expect-unknown-account", "true"])
    return run_case


def _go_acl(ctx):
    c = _cluster(ctx, ACL, "ours",
                 extra_conf={"aclEnable": "true", "rocketmqHome": "{home}"},
                 java_props={}, home_files={"conf/plain_acl.yml": PLAIN_ACL_YML})
    rc, out = ctx.go(["acl", "-ns", c.namesrv.addr, "-broker", c.broker.addr,
                      "-ak", ACL_USER[0], "-sk", ACL_USER[1],
                      "-admin-ak", ACL_ADMIN[0], "-admin-sk", ACL_ADMIN[1],
                      "-topic", ACL_TOPIC + "_go", "-group", ACL_GROUP + "_go",
                      "-denied-topic", ACL_DENIED], TIMEOUT)
    check_program(rc, out, "go client 2.1.2", ctx.log_path("go"))


def _java_tls(version: str):
    def run_case(ctx):
        impl = os.environ.get("COMPAT_SECURITY_BROKER", "ours")
        c = _cluster(ctx, TLS, impl,
                     extra_conf={"tls.server.mode": "enforcing"},
                     java_props={"tls.server.mode": "enforcing"}, home_files={})
        _run_java(ctx, version, ["-Dtls.enable=true"], "compat.SecurityTls",
                  ["--ns", c.namesrv.addr, "--broker", c.broker.addr])
    return run_case


def _go_tls(ctx):
    impl = os.environ.get("COMPAT_SECURITY_BROKER", "ours")
    c = _cluster(ctx, TLS, impl, extra_conf={"tls.server.mode": "enforcing"},
                 java_props={"tls.server.mode": "enforcing"}, home_files={})
    exe = ctx.toolchain.go_tls_binary()
    env = dict(os.environ)
    env["HOME"] = str(ctx.run_dir / "client-home")
    log = ctx.log_path("go")
    rc, out = run([str(exe), "-ns", c.namesrv.addr, "-broker", c.broker.addr, "-n", "20",
                   "-timeout", f"{TIMEOUT}s"], TIMEOUT + 30, log, env=env)
    what = os.environ.get("COMPAT_GO_TLS_CLIENT_SRC") or GO_TLS_CLIENT
    check_program(rc, out, f"go client {what}", log)


scenario(f"clients/go-{GO_TLS_CLIENT}/tls", tags=("broker", "clients", "go", "security"),
         clusters=(TLS,))(_go_tls)
scenario("clients/go-2.1.2/acl", tags=("broker", "clients", "go", "security"),
         clusters=(ACL,))(_go_acl)
scenario("clients/java-4.9.8/acl-admin", tags=("broker", "clients", "java", "mqadmin", "security"),
         clusters=(ACL_ADMIN_CLUSTER,))(_mqadmin_acl_admin("4.9.8"))

for _v in config.JAVA_CLIENT_VERSIONS:
    scenario(f"clients/java-{_v}/acl", tags=("broker", "clients", "java", "security"),
             clusters=(ACL,))(_java_acl(_v))
    scenario(f"clients/java-{_v}/tls", tags=("broker", "clients", "java", "security"),
             clusters=(TLS,))(_java_tls(_v))
