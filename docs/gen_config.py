#!/usr/bin/env python3
"""Regenerates docs/config.md from what the binaries print with -p (every key they know, with
its default on this machine) plus the notes below. Run: python3 docs/gen_config.py
(needs target/debug or target/release binaries: cargo build -p namesrv -p broker)."""
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NOTES = {
    # nameserver
    "listenPort": "Port to listen on (nameserver 9876, broker 10911; the broker also listens on listenPort-2, the VIP channel).",
    "kvConfigPath": "Where KV config is persisted (Java's kvConfig.json format).",
    "configStorePath": "Where UPDATE_NAMESRV_CONFIG persists the settings; `-c FILE` sets it to FILE, as Java does.",
    "orderMessageEnable": "Add orderTopicConf from KV namespace ORDER_TOPIC_CONFIG to routes. Changeable at run time.",
    "enableAllTopicList": "Answer GET_ALL_TOPIC_LIST_FROM_NAMESERVER. Changeable at run time.",
    "enableTopicList": "Answer the per-cluster and unit topic listings. Changeable at run time.",
    "needWaitForService": "Refuse route queries for waitSecondsForService after start. Changeable at run time.",
    "scanNotActiveBrokerInterval": "How often brokers without a heartbeat within their timeout (120 s) are expired (ms).",
    "serverChannelMaxIdleTimeSeconds": "Connections idle this long are closed.",
    "logLevel": "Ours (Java sets levels in its logback file): the log filter, e.g. `info`, `warn` or `info,broker=debug` (tracing's EnvFilter syntax). The RUST_LOG environment variable overrides it. An invalid value is refused at start, naming the key. Read at start only.",
    # broker
    "namesrvAddr": "Nameservers, `host:port;host:port`. Also `-n` and the NAMESRV_ADDR environment variable. When none is set, `mqbroker` starts an embedded nameserver on 9876.",
    "brokerIP1": "Address clients use to reach this broker, registered with the nameservers and written into message ids. Default 127.0.0.1 or the BROKER_IP1 environment variable (Java picks a local address).",
    "brokerName": "Broker name (Java default: the host name).",
    "brokerClusterName": "Cluster name.",
    "traceTopicEnable": "Create the trace topic msgTraceTopicName (1 queue, read/write) at start, for clients with message trace enabled.",
    "msgTraceTopicName": "The trace topic traceTopicEnable creates.",
    "storeReplyMessageEnable": "Store replies (SEND_REPLY_MESSAGE) in `<brokerClusterName>_REPLY_TOPIC` after pushing them to the requester.",
    "regionId": "Region; answered with every send and written into every accepted message (MSG_REGION), where trace hooks read it.",
    "traceOn": "Trace switch; answered with every send and written into every accepted message (TRACE_ON): `false` turns consumer traces off.",
    "brokerId": "0 = master.",
    "storePathRootDir": "Store root: commitlog/, consumequeue/, index/, config/, checkpoint, abort — the Java layout.",
    "storePathCommitLog": "CommitLog directory (default storePathRootDir/commitlog).",
    "flushDiskType": "ASYNC_FLUSH (flush every flushIntervalCommitLog ms) or SYNC_FLUSH (answer after fsync, group commit).",
    "syncFlushTimeout": "SYNC_FLUSH: a put not flushed within this many ms answers FLUSH_DISK_TIMEOUT.",
    "mappedFileSizeCommitLog": "CommitLog segment size in bytes (1 GiB).",
    "mappedFileSizeConsumeQueue": "ConsumeQueue file size in bytes (300 000 units of 20 bytes).",
    "maxMessageSize": "Largest message body accepted (bytes); larger answers MESSAGE_ILLEGAL.",
    "fileReservedTime": "Hours CommitLog files are kept.",
    "deleteWhen": "Hour(s) of day when expired files are deleted, e.g. 04 or 03;04.",
    "diskMaxUsedSpaceRatio": "Disk usage (%) above which files are cleaned regardless of age; forced at 85 %, writes refused at 90 %.",
    "autoCreateTopicEnable": "Create unknown topics on send from TBW102.",
    "autoCreateSubscriptionGroup": "Create unknown consumer groups on first use.",
    "defaultTopicQueueNums": "Queues of TBW102 and of auto-created topics.",
    "messageDelayLevel": "Delay levels for DELAY=1..N.",
    "timerWheelEnable": "Timer messages (TIMER_DELIVER_MS / TIMER_DELAY_SEC / TIMER_DELAY_MS, Java 5.x): kept in rmq_sys_wheel_timer until due. false: such sends answer SYSTEM_ERROR, as Java.",
    "timerMaxDelaySec": "Longest accepted timer delay (s); a later deliver time answers MESSAGE_ILLEGAL.",
    "timerPrecisionMs": "Timer granularity (ms): deliver times are rounded down to it and handed out one precision later, as Java.",
    "timerFlushIntervalMs": "How often the timer progress (config/timerProgress.json) is saved when it changed (ms); also at shutdown.",
    "enablePropertyFilter": "Allow SQL92 subscriptions.",
    "longPollingEnable": "Hold pulls that find nothing until a message arrives (else shortPollingTimeMills).",
    "transactionTimeOut": "Half messages older than this (ms) get a CHECK_TRANSACTION_STATE.",
    "transactionCheckInterval": "How often half messages are checked (ms).",
    "transactionCheckMax": "Checks before a half message is discarded to TRANS_CHECK_MAX_TIME_TOPIC.",
    "aclEnable": "Check every request against the ACL 1.0 accounts of rocketmqHome/conf/plain_acl.yml (docs/security.md).",
    "metricsExporterType": "PROM serves Prometheus metrics (docs/metrics.md); DISABLE (default) does not. Also read by the nameserver.",
    "metricsPromExporterPort": "Port of the Prometheus endpoint (5557).",
    "metricsPromExporterHost": "Address of the Prometheus endpoint (all addresses when empty).",
    "preallocateMappedFileEnable": "Create the next CommitLog segment in the background before it is needed (ours; Java always does).",
    "readAheadOnPullEnable": "Ours: a pull of fully written CommitLog data asks the kernel to read the next 4 MiB ahead (MADV_WILLNEED) and drops the broker's mappings of the 64 MiB behind it, so a consumer catching up from disk does not wait on a page fault per window nor grow the resident set. 1.35–1.5× faster drains from disk with a 128 KiB device read_ahead_kb; no difference with 8 MiB.",
    "warmMapedFileEnable": "Pre-fault whole new CommitLog segments (Java's key, typo included).",
    "brokerPermission": "Broker permission (6 = read+write, 4 = read only, 2 = write only). Changeable at run time (updateBrokerConfig, wipeWritePerm/addWritePerm).",
    "registerNameServerPeriod": "Registration period with the nameservers (ms, clamped to 10–60 s).",
}


def table(binary: str) -> list[tuple[str, str]]:
    for profile in ("release", "debug"):
        exe = ROOT / "target" / profile / binary
        if exe.exists():
            out = subprocess.run([str(exe), "-p"], capture_output=True, text=True, check=True).stdout
            home = str(Path.home())
            rows = [tuple(l.split("=", 1)) for l in out.splitlines() if "=" in l]
            return [(k, v.replace(home, "~")) for k, v in rows]
    raise SystemExit(f"build {binary} first")


def reported_only() -> set[str]:
    """Keys of broker/src/config_java.rs: Java's keys without a behaviour here."""
    import re
    text = (ROOT / "broker" / "src" / "config_java.rs").read_text()
    return set(re.findall(r'^\s*\("([A-Za-z0-9_.]+)",', text, re.M))


REPORTED_ONLY = reported_only()
REPORTED_NOTE = "Java's key, accepted and reported by getBrokerConfig with Java's default; no effect here."


def section(title: str, rows, reported=frozenset()) -> str:
    lines = [f"## {title}", "", "| key (Java name) | default | notes |", "|---|---|---|"]
    for k, v in rows:
        note = NOTES.get(k) or (REPORTED_NOTE if k in reported else "")
        lines.append(f"| `{k}` | `{v}` | {note} |")
    return "\n".join(lines) + "\n"


doc = """# Configuration reference

Both binaries read Java `.properties` files with the Java property names (`-c FILE`), so one
file starts either implementation. Unknown keys are kept and logged as a warning at start; a
value of the wrong type (text for a number, anything but true/false for a flag) is refused at
start with a message naming the key. `-p` prints every key with its effective value.
Defaults that depend on the machine (paths under `$HOME`, host name) show this machine's values.
Settings apply at start unless the notes say they can change at run time
(nameserver: UPDATE_NAMESRV_CONFIG / `mqadmin updateNamesrvConfig`). On the broker,
UPDATE_BROKER_CONFIG (`mqadmin updateBrokerConfig`) stores a change in the live table (what
`getBrokerConfig` prints) and writes the whole table back, as Java does, to the file named by
`brokerConfigPath`, else the `-c` file, else `~/store/config/broker.properties`; a value
that does not parse is refused naming the key. These take effect at once, as in Java:
`brokerPermission`, `autoCreateTopicEnable`, `autoCreateSubscriptionGroup`, `longPollingEnable`,
`shortPollingTimeMills`, `maxTransferCountOnMessageInMemory`, `maxTransferBytesOnMessageInMemory`,
`enablePropertyFilter`, `rejectTransactionMessage`, and the store's flush, retention and size
settings {store_keys}; every other key at the next start.
The TLS settings (`tls.server.mode`, `tls.config.file`, ... — Java's system properties) and
`rocketmq.acl.plain.file` are read from the same files but not printed while unset: see
docs/security.md. Likewise `logLevel` (ours, both binaries; Java sets levels in its logback file):
the log filter, e.g. `warn` or `info,broker=debug` (tracing's EnvFilter syntax), `info` when
unset; the RUST_LOG environment variable overrides it; an invalid value is refused at start naming
the key; read at start only.

Generated by `python3 docs/gen_config.py`.

"""
def live_store_keys() -> str:
    """LIVE_STORE_KEYS of store/src/tunables.rs."""
    import re
    text = (ROOT / "store" / "src" / "tunables.rs").read_text()
    block = text.split("LIVE_STORE_KEYS", 1)[1].split("];", 1)[0]
    return ", ".join(f"`{k}`" for k in re.findall(r'"([A-Za-z]+)"', block))


doc = doc.replace("{store_keys}", "(" + live_store_keys() + ")")
doc += section("Nameserver (`mqnamesrv`)", table("mqnamesrv")) + "\n"
doc += section("Broker (`mqbroker`)", table("mqbroker"), REPORTED_ONLY)
(ROOT / "docs" / "config.md").write_text(doc)
print("wrote docs/config.md")
