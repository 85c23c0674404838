"""The admin surface (issue 6): mqadmin against OUR nameserver + broker, compared with the Java pair.

``admin/<tools-version>/<command>``: two clusters of their own, ``admin-ref`` (Java 5.5.0 nameserver
and broker) and ``admin-cand`` (our ``mqnamesrv`` and ``mqbroker``; ``COMPAT_ADMIN_NS`` /
``COMPAT_ADMIN_BROKER=java`` point it at the Java servers, a self-check of the scenarios). For each
tools version the same state is set up on both (``compat.AdminFixture``: a topic with 16 keyed
messages, message i in queue i % 4; a push consumer group that consumed and committed all of them; a
producer group; both kept online while the commands run), then one script of mqadmin commands runs
against each cluster in one JVM (``compat.AdminBatch``), and each command's outputs are compared after
normalising what differs by nature:

* ports, the cluster's temp dir, epoch-ms timestamps, dates, message ids (they hold the broker address
  and a CommitLog offset), client ids (they hold a pid), runs of blanks;
* per step a normaliser ``kind``: ``text`` (as is), ``sorted`` (line order), ``keys`` (only the keys
  of ``key=value`` / ``key: value`` lines, sorted: configuration and runtime tables whose values differ
  by nature), ``numbers`` (every number -> N: statistics, TPS, offsets that depend on timing), ``json``
  (numbers of JSON masked). Keys are always compared.

Every step has a pattern the Java output must match, so a command cannot pass by failing the same way
on both sides. A command that cannot run in this set-up is listed with SKIP in ``SKIPPED``.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import config
from ..scenario import EXTRA_SPECS, scenario
from ..servers import ClusterSpec, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import Proc, ScenarioFailure, last_line, tail

REF = "admin-ref"
CAND = "admin-cand"
EXTRA_SPECS[REF] = lambda o: ClusterSpec(REF, "java", "java")
EXTRA_SPECS[CAND] = lambda o: ClusterSpec(CAND, os.environ.get("COMPAT_ADMIN_NS", "ours"),
                                          os.environ.get("COMPAT_ADMIN_BROKER", "ours"))
FIXTURE_TIMEOUT = 90  # s, set-up of the fixture (topic, sends, consumption)
C = config.CLUSTER_NAME
B = config.BROKER_NAME


@dataclass(frozen=True)
class Step:
    scenario: str            # the mqadmin command that reports this step
    argv: tuple[str, ...]    # placeholders: {ns} {broker} {uniqKey} {offsetMsgId} {clientId}
    expect: str              # regex the REFERENCE output must contain
    kind: str = "text"       # normaliser: text | sorted | keys | numbers | sorted-numbers | config:KEY
    # A known failure of the Java side (regex on its output): the step then passes when ours prints the
    # same first line (the header) and no exception, e.g. 4.9.8 tools reading a 5.x-only runtime table.
    java_bug: str = ""
    # Lines (regex on the line with ports/ids normalised, numbers still there) left out on both
    # sides: states whose appearance depends on timing.
    drop: str = ""
    # Lines (after normalising) only ours may have: keys the Java 4.9.8 broker reports and the 5.5.0
    # reference dropped, kept for the 4.9.8 tools (e.g. clusterList reads getTransferedTps).
    ours_extra: str = ""


def names(version: str) -> dict[str, str]:
    v = version.replace(".", "_")
    return {"topic": f"adm_topic_{v}", "topic2": f"adm_topic2_{v}", "group": f"adm_cg_{v}",
            "group2": f"adm_cg2_{v}", "group3": f"adm_cg3_{v}", "pgroup": f"adm_pg_{v}",
            "kvns": f"adm_kv_{v}", "tlist": f"adm_tl_{v}", "glist": f"adm_gl_{v}"}


def steps(version: str) -> list[Step]:
    n = names(version)
    t, t2, g, g2, g3, pg = n["topic"], n["topic2"], n["group"], n["group2"], n["group3"], n["pgroup"]
    ns = "{ns}"
    br = "{broker}"
    v_tag = version.replace(".", "_")
    v5 = not version.startswith("4.")  # 5.x queryMsgById requires -t, 4.9.8 rejects it (System.exit)
    # Admin API requests no mqadmin command sends (compat.AdminQueries), run before any step moves the
    # group's offsets or adds messages, so every queue's consume time is its newest store time.
    api_steps = [
        Step("queryConsumeTimeSpan", ("compat:time-span", t, g), r"(?m)^spans=4$[\s\S]*consume==max=true"),
        Step("queryConsumeTimeSpan", ("compat:time-span-at", br, t, f"adm_nobody_{v_tag}"),
             r"consume==max=false"),
        Step("queryConsumeTimeSpan", ("compat:time-span-at", br, f"adm_no_topic_{v_tag}", g),
             rf"code=17 remark=topic\[adm_no_topic_{v_tag}\] not exist"),
        Step("getSystemTopicListFromBroker", ("compat:system-topics", br), r"(?m)^systemTopic=SCHEDULE_TOPIC_XXXX$"),
    ]
    if v5:  # MQClientAPIImpl.getSubscriptionGroupConfig is 5.x only
        api_steps += [
            Step("getSubscriptionGroupConfig", ("compat:sub-config", br, g), rf"(?m)^getGroupName={g}$"),
            # A missing group with a legal name is auto-created (autoCreateSubscriptionGroup).
            Step("getSubscriptionGroupConfig", ("compat:sub-config", br, f"adm_auto_{v_tag}"),
                 rf"(?m)^getGroupName=adm_auto_{v_tag}$"),
            Step("getSubscriptionGroupConfig", ("compat:sub-config", br, "adm@bad"),
                 r"code=26 remark=No group in this broker"),
        ]
    # Java 5.x refuses system topics in updateTopic / deleteTopic (INVALID_PARAMETER); the static set,
    # one the broker adds at start (the cluster's own topic) and the rmq_sys_ prefix.
    system_steps = [
        Step("updateSystemTopic", ("updateTopic", "-n", ns, "-b", br, "-t", "SELF_TEST_TOPIC", "-r", "1", "-w", "1"),
             r"CODE: 29 .*The topic\[SELF_TEST_TOPIC\] is conflict with system topic"),
        Step("updateSystemTopic", ("updateTopic", "-n", ns, "-b", br, "-t", C, "-r", "16", "-w", "16"),
             rf"CODE: 29 .*The topic\[{C}\] is conflict with system topic"),
        Step("updateSystemTopic", ("updateTopic", "-n", ns, "-b", br, "-t", f"rmq_sys_adm_{v_tag}"),
             rf"CODE: 29 .*The topic\[rmq_sys_adm_{v_tag}\] is conflict with system topic"),
        Step("updateSystemTopic", ("topicList", "-n", ns), r"(?m)^SELF_TEST_TOPIC$", "sorted"),
        Step("deleteSystemTopic", ("deleteTopic", "-n", ns, "-c", C, "-t", "SELF_TEST_TOPIC"),
             r"CODE: 29 .*The topic\[SELF_TEST_TOPIC\] is conflict with system topic"),
        Step("deleteSystemTopic", ("topicRoute", "-n", ns, "-t", "SELF_TEST_TOPIC"), rf'"brokerName":"{B}"'),
    ]
    # A message delayed by level 18 (2 h): the level's entry appears once its task saw the queue.
    delay_steps = [
        Step("getAllDelayOffset", ("compat:send-delayed", t, "18"), r"send SEND_OK"),
        Step("getAllDelayOffset", ("compat:delay-offsets", br, "18", "15000"),
             r"code=0 remark=null\ndataVersion=present\noffsetTable=(.*,)?18:0$"),
    ]
    tl, gl = n["tlist"], n["glist"]
    # updateTopicList / updateSubGroupList exist in the 5.x tools only; they read {topicListFile} /
    # {groupListFile}, written by list_files().
    lists = [
        Step("updateTopicList", ("updateTopicList", "-n", ns, "-b", br, "-f", "{topicListFile}"), r"success"),
        Step("updateTopicList", ("compat:wait-route", f"{tl}_a", "present", "15000"), r"route present"),
        Step("updateTopicList", ("compat:wait-route", f"{tl}_b", "present", "15000"), r"route present"),
        Step("updateTopicList", ("topicRoute", "-n", ns, "-t", f"{tl}_b"), r'"readQueueNums":1'),
        Step("updateTopicList", ("deleteTopic", "-n", ns, "-c", C, "-t", f"{tl}_a"), r"success"),
        Step("updateTopicList", ("deleteTopic", "-n", ns, "-c", C, "-t", f"{tl}_b"), r"success"),
        Step("updateSubGroupList", ("updateSubGroupList", "-n", ns, "-c", C, "-f", "{groupListFile}"),
             r"success"),
        Step("updateSubGroupList", ("getConsumerConfig", "-n", ns, "-g", f"{gl}_a"), r"retryMaxTimes\s*=\s*5",
             "sorted"),
        Step("updateSubGroupList", ("getConsumerConfig", "-n", ns, "-g", f"{gl}_b"), f"{gl}_b", "sorted"),
        Step("updateSubGroupList", ("deleteSubGroup", "-n", ns, "-c", C, "-g", f"{gl}_a"), r"success"),
        Step("updateSubGroupList", ("deleteSubGroup", "-n", ns, "-c", C, "-g", f"{gl}_b"), r"success"),
    ] if v5 else []
    # getConsumerStatus is a tools class MQAdminStartup does not list: run through compat:command.
    get_status = ("compat:command", "org.apache.rocketmq.tools.command.offset.GetConsumerStatusCommand")
    # Topic attributes (5.x tools: updateTopic -a): stored, updated, deleted, and refused with Java's
    # remarks; the second delete proves the first one was stored.
    ta = f"adm_attr_{v_tag}"
    upd = ("updateTopic", "-n", ns, "-b", br, "-t", ta, "-a")
    attr_steps = [
        Step("updateTopicAttributes", upd + ("+message.type=FIFO",), r"success"),
        Step("updateTopicAttributes", upd + ("+queue.type=BatchCQ",),
             r"attempt to update an unchangeable attribute\. key: queue\.type"),
        Step("updateTopicAttributes", upd + ("+message.type=MIXED",), r"MIXED message type is not supported"),
        Step("updateTopicAttributes", upd + ("+foo.bar=1",), r"unsupported key: foo\.bar"),
        Step("updateTopicAttributes", upd + ("+message.type=bogus",), r"value is not in set: \[UNSPECIFIED, "),
        Step("updateTopicAttributes", upd + ("+message.type=NORMAL",), r"success"),
        Step("updateTopicAttributes", upd + ("-message.type",), r"success"),
        Step("updateTopicAttributes", upd + ("-message.type",),
             r"attempt to delete a nonexistent key: message\.type"),
        Step("updateTopicAttributes", ("deleteTopic", "-n", ns, "-c", C, "-t", ta), r"success"),
    ] if v5 else []
    stats_steps = [
        # The counters behind statsAll (VIEW_BROKER_STATS_DATA), right after the fixture sent and consumed
        # its 16 messages: once sampled (every 10 s) the minute window of either broker sums them; early in
        # the script because that window forgets after 60-70 s. statsAll's own TPS columns depend on when
        # the samples fall, so its step below compares the table's shape.
        Step("statsAll", ("compat:stats-wait", br, "TOPIC_PUT_NUMS", t, "16", "20000"), r"minute sum=16$"),
        Step("statsAll", ("compat:stats-wait", br, "TOPIC_PUT_SIZE", t, "1", "20000"), r"minute sum=\d+"),
        Step("statsAll", ("compat:stats-wait", br, "GROUP_GET_NUMS", f"{t}@{g}", "16", "20000"),
             r"minute sum=16$"),
        Step("statsAll", ("compat:stats-wait", br, "TOPIC_PUT_NUMS", f"{t}_none", "0", "1000"),
             r"refused: code=1 remark=The stats <TOPIC_PUT_NUMS> <\S+> not exist"),
    ]
    return stats_steps + api_steps + system_steps + lists + attr_steps + [
        Step("clusterList", ("clusterList", "-n", ns), r"#Cluster Name", "numbers",
             java_bug=r'NullPointerException: .*"getTransferedTps" is null'),
        Step("updateTopic", ("updateTopic", "-n", ns, "-c", C, "-t", t2, "-r", "2", "-w", "2"), r"success"),
        Step("updateTopic", ("compat:wait-route", t2, "present", "15000"), r"route present"),
        Step("topicList", ("topicList", "-n", ns), rf"(?m)^{t2}$", "sorted"),
        Step("topicRoute", ("topicRoute", "-n", ns, "-t", t), rf'"brokerName":"{B}"'),
        Step("topicStatus", ("topicStatus", "-n", ns, "-t", t), r"#Broker Name", "text"),
        Step("topicClusterList", ("topicClusterList", "-n", ns, "-t", t), C),
        Step("updateTopicPerm", ("updateTopicPerm", "-n", ns, "-b", br, "-t", t2, "-p", "4"), r"success"),
        Step("updateTopicPerm", ("topicRoute", "-n", ns, "-t", t2), r'"perm":4'),
        Step("updateSubGroup", ("updateSubGroup", "-n", ns, "-c", C, "-g", g2), r"success"),
        Step("getConsumerConfig", ("getConsumerConfig", "-n", ns, "-g", g2), g2, "sorted"),
        Step("deleteSubGroup", ("deleteSubGroup", "-n", ns, "-c", C, "-g", g2), r"success"),
        # The group's empty retry queue gets a committed offset (0) only once the client's first pull
        # of it comes back, which a broker holds for its 15 s long poll: present or not by timing.
        Step("consumerProgress", ("consumerProgress", "-n", ns, "-g", g), r"#Topic", "numbers",
             drop=r"^%RETRY%\S+ \S+ \d+ \d+ \d+ \d+( \d+)? N/A$"),
        Step("consumerStatus", ("consumerStatus", "-n", ns, "-g", g), r"(?i)consum", "numbers"),
        # The client's own tables list the retry queue once its first (long-polled) pull came back.
        Step("consumerStatus", ("consumerStatus", "-n", ns, "-g", g, "-i", "{clientId}"), r"(?i)subscri",
             "numbers", drop=r"^%RETRY%"),
        Step("consumerConnection", ("consumerConnection", "-n", ns, "-g", g), r"#ClientId", "sorted-numbers"),
        Step("producerConnection", ("producerConnection", "-n", ns, "-g", pg, "-t", t), r"(?i)producer",
             "numbers"),
        # CommitLog offsets and sizes depend on each broker's history: numbers are masked.
        Step("queryCq", ("queryCq", "-n", ns, "-t", t, "-q", "1", "-i", "0", "-b", br), r"max: 4, min: 0",
             "numbers"),
        Step("queryCq", ("queryCq", "-n", ns, "-t", t, "-q", "2", "-i", "1", "-c", "2", "-g", g, "-b", br),
             r'(?s)Subscription data.*"subString":"\*".*Filter data: \nnull.*idx: 2', "numbers"),
        Step("queryCq", ("queryCq", "-n", ns, "-t", t, "-q", "1", "-i", "0", "-g", f"{g}_offline", "-b", br),
             r"is not online!", "numbers"),
        Step("queryCq", ("queryCq", "-n", ns, "-t", t, "-q", "99", "-i", "0", "-b", br), r"99@\S+ is not exist!",
             "numbers"),
        # Rows of other producer groups (the tools' own CLIENT_INNER_PRODUCER instances come and go
        # with each command's heartbeats) are left out.
        Step("producer", ("producer", "-n", ns, "-b", br), rf"producer group \({pg}\)", "sorted-numbers",
             drop=rf"^producer group \((?!{pg}\))"),
        Step("getConsumerStatus", get_status + ("-n", ns, "-g", g, "-t", t), r"#clientId", "sorted"),
        Step("getConsumerStatus", get_status + ("-n", ns, "-g", g, "-t", t, "-i", "{clientId}"), r"#clientId",
             "sorted"),
        Step("brokerStatus", ("brokerStatus", "-n", ns, "-b", br), r"brokerVersion", "keys",
             ours_extra=r"^(brokerVersion|getTransferedTps|remainHowManyDataToCommit)$"),
        # Rows of the other tools version's groups (state left by the earlier script) are left out:
        # when the Java broker stops listing an offline group's offsets depends on timing.
        Step("brokerConsumeStats", ("brokerConsumeStats", "-n", ns, "-b", br), r"#Topic", "numbers",
             drop=rf"adm_cg\d?_(?!{v_tag})"),
        Step("getBrokerConfig", ("getBrokerConfig", "-n", ns, "-b", br), r"brokerName", "keys"),
        Step("updateBrokerConfig", ("updateBrokerConfig", "-n", ns, "-b", br, "-k", "maxMessageSize",
                                    "-v", "2097152"), r"success"),
        Step("updateBrokerConfig", ("getBrokerConfig", "-n", ns, "-b", br), r"maxMessageSize\s*=\s*2097152",
             "config:maxMessageSize"),
        Step("queryMsgById", ("queryMsgById", "-n", ns, "-i", "{offsetMsgId}") + (("-t", t) if v5 else ()), r"Keys:\s+\[key_0\]"),
        # With a group and a client id: CONSUME_MESSAGE_DIRECTLY, relayed by the broker to the
        # fixture's consumer, which consumes the message and answers.
        Step("queryMsgById", ("queryMsgById", "-n", ns, "-i", "{offsetMsgId}", "-g", g, "-d", "{clientId}")
             + (("-t", t) if v5 else ()), r"CR_SUCCESS", "numbers"),
        Step("queryMsgByKey", ("queryMsgByKey", "-n", ns, "-t", t, "-k", "key_5"), r"#Message ID", "numbers"),
        Step("queryMsgByUniqueKey", ("queryMsgByUniqueKey", "-n", ns, "-t", t, "-i", "{uniqKey}"),
             r"Keys:\s+\[key_0\]"),
        Step("queryMsgByOffset", ("queryMsgByOffset", "-n", ns, "-t", t, "-b", B, "-i", "1", "-o", "0"),
             r"Keys:\s+\[key_1\]"),
        Step("printMsg", ("printMsg", "-n", ns, "-t", t), r"admin body"),
        Step("printMsgByQueue", ("printMsgByQueue", "-n", ns, "-t", t, "-a", B, "-i", "2", "-p", "true"),
             r"KEYS=key_2", "numbers"),
        Step("resetOffsetByTime", ("resetOffsetByTime", "-n", ns, "-g", g, "-t", t, "-s", "0"), r"(?i)offset",
             "numbers"),
        Step("cloneGroupOffset", ("updateSubGroup", "-n", ns, "-c", C, "-g", g3), r"success"),
        Step("cloneGroupOffset", ("cloneGroupOffset", "-n", ns, "-s", g, "-d", g3, "-t", t), r"(?i)success"),
        Step("statsAll", ("statsAll", "-n", ns, "-t", t), r"#Topic", "numbers"),
        Step("updateKvConfig", ("updateKvConfig", "-n", ns, "-s", n["kvns"], "-k", "k1", "-v", "v1"),
             r"success"),
        Step("updateKvConfig", ("compat:kv-get", n["kvns"], "k1"), r"value=v1"),
        Step("deleteKvConfig", ("deleteKvConfig", "-n", ns, "-s", n["kvns"], "-k", "k1"), r"success"),
        Step("deleteKvConfig", ("compat:kv-list", n["kvns"]), r"."),
        Step("getNamesrvConfig", ("getNamesrvConfig", "-n", ns), r"listenPort", "keys"),
        Step("updateNamesrvConfig", ("updateNamesrvConfig", "-n", ns, "-k", "clusterTest", "-v", "false"),
             r"success"),
        Step("updateNamesrvConfig", ("getNamesrvConfig", "-n", ns), r"clusterTest\s*=\s*false",
             "config:clusterTest"),
        Step("wipeWritePerm", ("wipeWritePerm", "-n", ns, "-b", B), r"OK, \d+"),
        Step("addWritePerm", ("addWritePerm", "-n", ns, "-b", B), r"OK, \d+"),
        Step("cleanExpiredCQ", ("cleanExpiredCQ", "-n", ns, "-b", br), r"(?i)success"),
        Step("cleanUnusedTopic", ("cleanUnusedTopic", "-n", ns, "-b", br), r"success"),
        Step("cleanUnusedTopic", ("cleanUnusedTopic", "-n", ns, "-c", C), r"success"),
        # The topics of the configuration keep their queues.
        Step("cleanUnusedTopic", ("topicStatus", "-n", ns, "-t", t), r"#Broker Name"),
        Step("deleteExpiredCommitLog", ("deleteExpiredCommitLog", "-n", ns, "-b", br), r"(?i)success"),
        Step("allocateMQ", ("allocateMQ", "-n", ns, "-t", t, "-i", "10.0.0.1@1,10.0.0.2@2"), r"10\.0\.0\.1"),
        Step("checkMsgSendRT", ("checkMsgSendRT", "-n", ns, "-t", t, "-a", "3", "-s", "16"), r"(?i)rt",
             "numbers"),
        Step("sendMessage", ("sendMessage", "-n", ns, "-t", t, "-p", "sent by mqadmin", "-k", "mqadmin_key",
                             "-c", "TagB", "-b", B, "-i", "3"), r"SEND_OK", "numbers"),
        Step("consumeMessage", ("consumeMessage", "-n", ns, "-t", t, "-b", B, "-i", "0", "-o", "0", "-c",
                                "2"), r"admin body", "numbers"),
        Step("deleteTopic", ("deleteTopic", "-n", ns, "-c", C, "-t", t2), r"success"),
        Step("deleteTopic", ("compat:wait-route", t2, "absent", "15000"), r"route absent"),
    ] + delay_steps


# Commands of the issue that are not run, with the reason (printed as SKIP lines by the scenario).
SKIPPED: dict[str, str] = {}


# --------------------------------------------------------------------------- fixture and scripts

class Fixture:
    """compat.AdminFixture on one cluster: started, waited for, stopped."""

    def __init__(self, ctx, version: str, key: str, cluster):
        self.ctx, self.version, self.key, self.cluster = ctx, version, key, cluster
        self.dir = ctx.run_dir / "admin" / version / key
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ready = self.dir / "fixture.ready"
        self.stopfile = self.dir / "fixture.stop"
        self.log = self.dir / "fixture.log"
        n = names(version)
        cp = ctx.toolchain.java_classpath(version)
        home = ctx.run_dir / "client-home"
        home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)
        env.pop("NAMESRV_ADDR", None)
        argv = [java_executable(), *config.CLIENT_JVM, f"-Duser.home={home}",
                f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
                "-cp", cp, "compat.AdminFixture", "--ns", cluster.namesrv.addr, "--broker", cluster.broker.addr,
                "--topic", n["topic"], "--group", n["group"], "--producer-group", n["pgroup"],
                "--ready", str(self.ready), "--stop", str(self.stopfile),
                "--setup-timeout-ms", str(FIXTURE_TIMEOUT * 1000)]
        self.proc = Proc(f"admin fixture {key}", argv, self.log, env=env)

    def wait_ready(self) -> dict[str, str]:
        deadline = time.monotonic() + FIXTURE_TIMEOUT + 30
        while not self.ready.exists():
            if not self.proc.alive():
                raise ScenarioFailure(f"admin fixture on {self.key} exited: {last_line(tail(self.log))}",
                                      tail(self.log))
            if time.monotonic() > deadline:
                raise ScenarioFailure(f"admin fixture on {self.key} not ready", tail(self.log))
            time.sleep(0.2)
        values = {}
        for ln in self.ready.read_text().splitlines():
            k, _, v = ln.partition("=")
            values[k] = v
        return values

    def stop(self) -> None:
        self.stopfile.write_text("stop")
        deadline = time.monotonic() + 20
        while self.proc.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.proc.stop(grace=2)


@dataclass
class BatchResult:
    outputs: list[str | None]
    problem: str


def list_files(version: str, where: Path) -> dict[str, str]:
    """The JSON files of updateTopicList / updateSubGroupList (TopicConfig / SubscriptionGroupConfig
    lists, as the tools read them); returns their placeholders."""
    n = names(version)
    topics = [{"topicName": f"{n['tlist']}_a", "readQueueNums": 2, "writeQueueNums": 2, "perm": 6},
              {"topicName": f"{n['tlist']}_b", "readQueueNums": 1, "writeQueueNums": 1, "perm": 6}]
    groups = [{"groupName": f"{n['glist']}_a", "retryMaxTimes": 5, "consumeBroadcastEnable": False},
              {"groupName": f"{n['glist']}_b"}]
    out = {}
    for key, data in (("topicListFile", topics), ("groupListFile", groups)):
        p = where / f"{key}.json"
        p.write_text(json.dumps(data), encoding="utf-8")
        out[key] = str(p)
    return out


def _run(ctx, version: str, key: str, cluster) -> BatchResult:
    st = steps(version)
    fixture = Fixture(ctx, version, key, cluster)
    try:
        values = fixture.wait_ready()
        values.update({"ns": cluster.namesrv.addr, "broker": cluster.broker.addr})
        values.update(list_files(version, fixture.dir))
        script = fixture.dir / "script.txt"
        out_dir = fixture.dir / "out"
        with open(script, "w", encoding="utf-8") as f:
            for s in st:
                f.write("\t".join(re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), a)
                                  for a in s.argv) + "\n")
        timeout = len(st) * config.MQADMIN_COMMAND_TIMEOUT + 60
        rc, out = ctx.java(version, ["admin-batch", "--ns", cluster.namesrv.addr, "--script", str(script),
                                     "--out", str(out_dir),
                                     "--command-timeout-ms", str(config.MQADMIN_COMMAND_TIMEOUT * 1000),
                                     "--max-timeouts", "4",
                                     "--hard-timeout-ms", str(int(timeout * 1000))],
                           timeout, what=f"admin-{version}-{key}", cwd=fixture.dir)
    finally:
        fixture.stop()
    outputs: list[str | None] = []
    for i in range(len(st)):
        p = out_dir / f"{i}.out"
        outputs.append(p.read_text(encoding="utf-8", errors="replace") if p.exists() else None)
    return BatchResult(outputs, "" if rc == 0 else f"admin batch exit {rc}: {last_line(out)}")


def batch(ctx, version: str) -> dict[str, BatchResult]:
    memo_key = ("admin-batch", version)
    if memo_key in ctx.memo:
        return ctx.memo[memo_key]
    ref, cand = ctx.clusters_parallel(REF, CAND)
    ctx.toolchain.java_classpath(version)
    results: dict[str, BatchResult] = {}

    def go(key, cluster):
        try:
            results[key] = _run(ctx, version, key, cluster)
        except ScenarioFailure as e:
            results[key] = BatchResult([None] * len(steps(version)), e.reason + "\n" + e.detail)
    threads = [threading.Thread(target=go, args=(REF, ref)), threading.Thread(target=go, args=(CAND, cand))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.memo[memo_key] = results
    return results


# --------------------------------------------------------------------------- normalising

_TIMESTAMP = re.compile(r"(?<!\d)1\d{12}(?!\d)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[ T#]\d{2}:\d{2}:\d{2}(?:[,.:]\d{3})?")
_MSGID = re.compile(r"(?<![0-9A-Fa-f])[0-9A-F]{32,}(?![0-9A-Fa-f])")
_LAMBDA = re.compile(r"\$\$Lambda\$[\w/$]*")
_HASH = re.compile(r"(?<=[\w$])@[0-9a-f]{1,8}\b")
_CLIENTID = re.compile(r"\d+\.\d+\.\d+\.\d+@[\w#.-]+")
_CLIENT_PORT = re.compile(r"127\.0\.0\.1:\d+(?!\d)")  # after the cluster's own ports became roles
_BLANKS = re.compile(r"(?<=\S)[ \t]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:E-?\d+)?")
_KV = re.compile(r"^\s*([\w.\-]+)\s*[:=]")


def normalize(text: str, kind: str, cluster, drop: str = "") -> list[str]:
    text = text.replace(str(cluster.dir), "<CLUSTER_DIR>")
    for port, role in cluster.port_roles().items():
        text = re.sub(rf"(?<!\d){port}(?!\d)", role, text)
    text = _CLIENT_PORT.sub("127.0.0.1:<PORT>", text)
    text = _TIMESTAMP.sub("<TIMESTAMP>", text)
    text = _DATE.sub("<DATE>", text)
    text = _MSGID.sub("<MSGID>", text)
    text = _CLIENTID.sub("<CLIENTID>", text)
    text = _HASH.sub("@<HASH>", text)
    text = _LAMBDA.sub("$$Lambda", text)
    lines = []
    for ln in text.splitlines():
        ln = _BLANKS.sub(" ", ln).rstrip()
        if ln and not (drop and re.search(drop, ln)):
            lines.append(ln)
    if kind == "sorted":
        lines.sort()
    elif kind in ("numbers", "sorted-numbers"):
        lines = [_NUMBER.sub("N", ln.replace("<TIMESTAMP>", "N")) for ln in lines]
        if kind == "sorted-numbers":
            lines.sort()
    elif kind == "keys" or kind.startswith("config:"):
        keep = kind.partition(":")[2]
        out = []
        for ln in lines:
            m = _KV.match(ln)
            if m:
                out.append(ln if m.group(1) == keep else m.group(1))
            else:
                out.append(_NUMBER.sub("N", ln))
        lines = sorted(out)
    return lines


def _label(argv: tuple[str, ...]) -> str:
    return " ".join(a for a in argv if a not in ("{ns}", "-n"))


def compare(ctx, version: str, name: str) -> None:
    results = batch(ctx, version)
    ref_c, cand_c = ctx.clusters[REF], ctx.clusters[CAND]
    failures, details = [], []
    for i, st in enumerate(steps(version)):
        if st.scenario != name:
            continue
        ref_out, cand_out = results[REF].outputs[i], results[CAND].outputs[i]
        label = _label(st.argv)
        if ref_out is None:
            raise ScenarioFailure(f"`{label}` did not run on the Java cluster: {results[REF].problem or 'no output'}")
        if not re.search(st.expect, ref_out):
            raise ScenarioFailure(
                f"Java output of `{label}` does not match /{st.expect}/ (harness or reference problem)",
                "\n".join("    | " + ln for ln in ref_out.splitlines()[:40]))
        if cand_out is None:
            failures.append(f"`{label}` did not run on ours: {results[CAND].problem or 'no output'}")
            continue
        if st.java_bug and re.search(st.java_bug, ref_out):
            head = ref_out.splitlines()[0] if ref_out.strip() else ""
            if "Exception" in cand_out or normalize(head, st.kind, ref_c) != normalize(cand_out, st.kind, cand_c)[:1]:
                failures.append(f"`{label}`: the Java side hits a known tools bug; ours must print its header "
                                f"and no exception")
                details.append("\n".join("    | " + ln for ln in cand_out.splitlines()[:20]))
            else:
                ctx.note(f"{label}: Java side hits a known tools bug ({st.java_bug}); ours printed the table")
            continue
        a = normalize(ref_out, st.kind, ref_c, st.drop)
        b = normalize(cand_out, st.kind, cand_c, st.drop)
        if st.ours_extra:
            b = [ln for ln in b if not re.search(st.ours_extra, ln)]
        if a != b:
            failures.append(f"`{label}` output differs")
            lines = list(difflib.unified_diff(a, b, f"java: {label}", f"ours: {label}", lineterm="", n=2))
            shown = lines[:60] + ([f"... {len(lines) - 60} more diff lines"] if len(lines) > 60 else [])
            details.append("\n".join("    " + ln for ln in shown))
    if name == "updateBrokerConfig":
        # Java writes the whole table back to the broker's -c file; ours must too.
        for key, cluster in ((REF, ref_c), (CAND, cand_c)):
            text = cluster.broker.conf_path.read_text(encoding="utf-8", errors="replace")
            if not re.search(r"(?m)^maxMessageSize=2097152$", text):
                what = "Java" if key == REF else "our"
                failures.append(f"{what} broker did not persist maxMessageSize=2097152 to {cluster.broker.conf_path}")
    if failures:
        raise ScenarioFailure("; ".join(failures),
                              "\n".join(details) + f"\n    raw outputs under {ctx.run_dir / 'admin' / version}/*/out/")


def _command_names(version: str) -> list[str]:
    out: list[str] = []
    for st in steps(version):
        if st.scenario not in out:
            out.append(st.scenario)
    return out


def _register(version: str, name: str) -> None:
    scenario(f"admin/{version}/{name}", tags=("admin",), clusters=(REF, CAND))(
        lambda ctx: compare(ctx, version, name))


for _v in config.MQADMIN_VERSIONS:
    for _n in _command_names(_v):
        _register(_v, _n)
