"""Wire and store fixtures recorded from the Java reference (issues 2 and 3).

``fixtures/wire/capture``: the Java reference nameserver and broker 5.5.0 behind
recording proxies (harness/capture.py); the Java client 4.9.8 and 5.5.0 each run a
short session (compat.FixtureMain wire-session) once with JSON headers and once
with ``-Drocketmq.serialize.type=ROCKETMQ``; the broker registers through the
nameserver proxy. A representative frame set (first request/response pair per
version, link, serialization, request code and response code) is written as
``<java-version>-<req|rsp>-<request code>-<n>.bin`` plus a ``.json`` sidecar (the
Python reading of the frame). Then ``cargo test -p remoting --test java_fixtures``
runs over the fresh capture (JAVA_WIRE_FIXTURES_DIR).

``fixtures/store/java-writes``: the Java broker with a small store (512 KiB
CommitLog files, 64-unit ConsumeQueue files, small IndexFiles; fixtures/store.conf)
receives a known set of messages from the Java client 4.9.8 and 5.5.0
(compat.FixtureMain store-produce), commits consumer offsets for one group and is
stopped cleanly; the store and a manifest are written, and ``cargo test -p store
--test java_fixtures`` runs over them (STORE_JAVA_FIXTURE_DIR).

``fixtures/store/java-to-java``, ``fixtures/store/java-to-ours``: a copy of the
committed Java store fixture is served by the Java broker (a self-test of the
fixture) resp. by ours; a Java consumer of the group with committed offsets must
receive exactly the messages from those offsets on, and a fresh group all of them.

``fixtures/store/ours-to-java``: our broker receives the known set, is stopped, and
the Java broker is started on the same store directory; the same two consumers
check everything our broker stored.

Regenerating the committed fixtures (compat-tests/fixtures/):

    COMPAT_WRITE_FIXTURES=1 compat-tests/run fixtures/wire/capture fixtures/store/java-writes

Without COMPAT_WRITE_FIXTURES the new capture goes to the run directory only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

from .. import config
from ..capture import CaptureProxy, Recorder, parse_frame
from ..scenario import check_program, scenario
from ..servers import Broker, NameServer, java_executable
from ..toolchain import REFERENCE_DIR
from ..util import (COMPAT_DIR, LOOPBACK, REPO_ROOT, ScenarioFailure, free_port, run, tail, wait_tcp,
                    write_properties)
from ..util import Proc

FIXTURES_DIR = COMPAT_DIR / "fixtures"
WIRE_FIXTURES = FIXTURES_DIR / "wire"
STORE_FIXTURE = FIXTURES_DIR / "store-java-5.5.0"
STORE_CONF = FIXTURES_DIR / "store.conf"
WRITE = os.environ.get("COMPAT_WRITE_FIXTURES") == "1"

# The broker advertises this address while binding 127.0.0.1, so a proxy can sit on it.
PROXY_IP = "127.0.0.2"
WIRE_SIZE_LIMIT = 300 * 1024
WIRE_FRAME_LIMIT = 48 * 1024
COMMIT_GROUP = "FixGroup"
JAVA_STOP_GRACE = 120.0


def _read_conf(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


class FixtureBroker(Broker):
    """A broker with extra broker.conf keys, a given store directory and an advertised IP."""

    def __init__(self, impl: str, dir: Path, toolchain, namesrv: NameServer, store: Path,
                 extra: dict[str, object], advertise_ip: str = LOOPBACK, ns_addr: str | None = None):
        super().__init__(impl, dir, toolchain, namesrv)
        self.store = store
        self.extra = extra
        self.advertise_ip = advertise_ip
        self.ns_addr = ns_addr or namesrv.addr

    @property
    def addr(self) -> str:
        return f"{self.advertise_ip}:{self.port}"

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port(extra_offsets=(-2, -1, 1))
        conf = dict(config.BROKER_CONF)
        conf.update({
            "listenPort": self.port,
            "haListenPort": self.port + 1,
            "namesrvAddr": self.ns_addr,
            "brokerIP1": self.advertise_ip,
            "storePathRootDir": self.store,
            "storePathCommitLog": self.store / "commitlog",
        })
        conf.update(self.extra)
        write_properties(self.conf_path, conf)
        if self.impl == "java":
            lib = self.toolchain.reference_lib(config.REFERENCE_VERSION)
            argv = [java_executable(), *config.BROKER_JVM, f"-Duser.home={self.home}",
                    "-cp", f"{lib}/*", "org.apache.rocketmq.broker.BrokerStartup",
                    "-c", str(self.conf_path), "-n", self.ns_addr]
        else:
            exe = self.toolchain.rust_binary("broker", "mqbroker")
            argv = [str(exe), "-c", str(self.conf_path), "-n", self.ns_addr]
        env = dict(os.environ)
        env.update(HOME=str(self.home), ROCKETMQ_HOME=str(self.home))
        env.pop("NAMESRV_ADDR", None)
        env.setdefault("RUST_LOG", "info")
        self.proc = Proc(f"{self.impl} broker", argv, self.log_path, cwd=self.dir, env=env)
        wait_tcp(self.port, config.SERVER_START_TIMEOUT, self.proc)

    def stop_clean(self, grace: float = JAVA_STOP_GRACE) -> None:
        """SIGTERM and wait for the shutdown hook (the store is flushed, the abort file removed)."""
        if self.proc is None:
            return
        self.proc.stop(grace)
        if self.proc.popen.returncode == -9:
            raise ScenarioFailure(f"{self.impl} broker did not stop within {grace:.0f} s", self.log_tails())
        abort = self.store / "abort"
        if abort.exists():
            raise ScenarioFailure(f"{self.impl} broker left {abort} behind: not a clean shutdown",
                                  self.log_tails())


def _java(ctx, version: str, argv: list[str], timeout: float, props: tuple[str, ...] = (),
          what: str = "java") -> tuple[int, str]:
    """Runs ``compat.FixtureMain argv`` with the Java client ``version``."""
    cp = ctx.toolchain.java_classpath(version)
    home = ctx.run_dir / "client-home"
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["ROCKETMQ_HOME"] = str(REFERENCE_DIR)
    env.pop("NAMESRV_ADDR", None)
    cmd = [java_executable(), *config.CLIENT_JVM, *props, f"-Duser.home={home}",
           f"-Dlogback.configurationFile={REFERENCE_DIR / 'conf' / 'logback_tools.xml'}",
           "-cp", cp, "compat.FixtureMain", *argv, "--timeout-ms", str(int(timeout * 1000))]
    return run(cmd, timeout + 30, ctx.log_path(what), env=env)


class _Servers:
    """Servers a fixture scenario started itself (stopped in ``close``)."""

    def __init__(self):
        self.items: list = []

    def add(self, x):
        self.items.append(x)
        return x

    def close(self):
        for x in reversed(self.items):
            try:
                x.stop()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass


def _cargo_test(ctx, package: str, test: str, env_extra: dict[str, str]) -> None:
    cargo = shutil.which("cargo")
    if cargo is None:
        raise ScenarioFailure("cargo is not installed")
    env = dict(os.environ)
    env.update(env_extra)
    log = ctx.log_path(f"cargo-{test}")
    # --release: the profile ../run-tests builds the workspace tests in, so nothing is rebuilt there.
    rc, out = run([cargo, "test", "--release", "-p", package, "--test", test], 40 * 60, log,
                  cwd=REPO_ROOT, env=env)
    if rc != 0:
        raise ScenarioFailure(f"cargo test -p {package} --test {test} failed (exit {rc})", tail(log, 30))


# ============================================================================ wire capture

def _link_version(link: str, label: str) -> str:
    return config.REFERENCE_VERSION if link.startswith("broker") else label.split("-")[0]


def select_wire(frames) -> list[dict]:
    """Pairs requests with responses and keeps the first pair per kind. Returns fixture entries."""
    parsed = []
    for f in frames:
        p = parse_frame(f.raw)
        parsed.append((f, p))
    responses = {}
    for f, p in parsed:
        if p["flag"] & 1:
            responses.setdefault((f.link, f.conn, f.direction, p["opaque"]), (f, p))
    seen = set()
    pairs = []
    for f, p in parsed:
        if p["flag"] & 1:
            continue
        back = "s2c" if f.direction == "c2s" else "c2s"
        resp = responses.get((f.link, f.conn, back, p["opaque"]))
        version = _link_version(f.link, f.label)
        key = (version, f.link, f.direction, p["serialize_type"], p["code"],
               None if resp is None else resp[1]["code"])
        if key in seen:
            continue
        if len(f.raw) > WIRE_FRAME_LIMIT or (resp is not None and len(resp[0].raw) > WIRE_FRAME_LIMIT):
            continue
        seen.add(key)
        pairs.append((version, f, p, resp))
    counters: dict[tuple, int] = {}
    out = []
    for version, f, p, resp in pairs:
        for d, (ff, pp) in (("req", (f, p)), ("rsp", resp)) if resp else (("req", (f, p)),):
            k = (version, d, p["code"])
            n = counters.get(k, 0)
            counters[k] = n + 1
            name = f"{version}-{d}-{p['code']}-{n}"
            side = {"file": name + ".bin", "java_version": version, "session": ff.label, "link": ff.link,
                    "direction": "request" if d == "req" else "response",
                    "request_code": p["code"], "frame_len": len(ff.raw)}
            side.update(pp)
            out.append({"name": name, "raw": ff.raw, "side": side})
    return out


def write_wire(entries: list[dict], out: Path) -> int:
    if out.exists():
        for p in out.glob("*"):
            if p.suffix in (".bin", ".json"):
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for e in entries:
        (out / (e["name"] + ".bin")).write_bytes(e["raw"])
        text = json.dumps(e["side"], indent=1, ensure_ascii=False) + "\n"
        (out / (e["name"] + ".json")).write_text(text, encoding="utf-8")
        total += len(e["raw"]) + len(text.encode())
    return total


def check_wire_coverage(entries: list[dict]) -> list[str]:
    """What a capture must contain; returns what is missing."""
    have = {(e["side"]["java_version"], e["side"]["direction"], e["side"]["serialize_type"],
             e["side"]["request_code"], e["side"]["link"]) for e in entries}
    missing = []
    for v in config.JAVA_CLIENT_VERSIONS:
        for code, link in ((105, "client->namesrv"), (34, "client->broker"), (310, "client->broker"),
                           (320, "client->broker"), (11, "client->broker"), (14, "client->broker"),
                           (15, "client->broker"), (30, "client->broker"), (17, "client->broker")):
            for st in ("JSON", "ROCKETMQ"):
                if (v, "request", st, code, link) not in have:
                    missing.append(f"{v} {st} request {code} on {link}")
        found = [e for e in entries if e["side"]["java_version"] == v and e["side"]["request_code"] == 11
                 and e["side"]["direction"] == "response" and e["side"]["code"] == 0
                 and e["side"]["body_len"] > 0]
        if not found:
            missing.append(f"{v} pull response FOUND with a body")
    if (config.REFERENCE_VERSION, "request", "JSON", 103, "broker->namesrv") not in have:
        missing.append("REGISTER_BROKER from the Java broker")
    return missing


@scenario("fixtures/wire/capture", tags=("fixtures", "wire", "java"))
def wire_capture(ctx):
    servers = _Servers()
    rec = Recorder(label=f"{config.REFERENCE_VERSION}-broker")
    base = ctx.run_dir / "fixtures-wire"
    try:
        ns = servers.add(NameServer("java", base / "namesrv", ctx.toolchain))
        ns.start()
        ns_proxy = servers.add(CaptureProxy("client->namesrv", (LOOPBACK, free_port()),
                                            (LOOPBACK, ns.port), rec).start())
        broker_ns_proxy = servers.add(CaptureProxy("broker->namesrv", (LOOPBACK, free_port()),
                                                   (LOOPBACK, ns.port), rec).start())
        broker = FixtureBroker("java", base / "broker", ctx.toolchain, ns, base / "broker" / "store",
                               {"bindAddress": LOOPBACK, "timerWheelEnable": "false"},
                               advertise_ip=PROXY_IP, ns_addr=broker_ns_proxy.addr)
        servers.add(broker)
        broker.start()
        broker_proxy = servers.add(CaptureProxy("client->broker", (PROXY_IP, broker.port),
                                                (LOOPBACK, broker.port), rec).start())
        broker.wait_registered(config.BROKER_REGISTER_TIMEOUT)
        for v in config.JAVA_CLIENT_VERSIONS:
            for st in ("json", "rocketmq"):
                rec.set_label(f"{v}-{st}")
                props = ("-Drocketmq.serialize.type=ROCKETMQ",) if st == "rocketmq" else ()
                topic = f"FixWire_{v.replace('.', '')}_{st}"
                rc, out = _java(ctx, v, ["wire-session", "--ns", ns_proxy.addr, "--broker", broker.addr,
                                         "--topic", topic], config.CLIENT_SCENARIO_TIMEOUT, props,
                                what=f"java-{v}-{st}")
                check_program(rc, out, f"java client {v} ({st})", ctx.log_path(f"java-{v}-{st}"))
        rec.set_label(f"{config.REFERENCE_VERSION}-broker")
        broker.stop_clean()
    finally:
        servers.close()
    if rec.errors:
        raise ScenarioFailure(f"capture errors: {rec.errors[0]}", "\n".join("    " + e for e in rec.errors))
    entries = select_wire(rec.frames)
    missing = check_wire_coverage(entries)
    if missing:
        raise ScenarioFailure(f"the capture lacks {len(missing)} kinds of frame: {missing[0]}",
                              "\n".join("    " + m for m in missing))
    out = WIRE_FIXTURES if WRITE else ctx.run_dir / "wire-fixtures"
    total = write_wire(entries, out)
    ctx.note(f"{len(rec.frames)} frames recorded, {len(entries)} fixtures ({total} bytes) in {out}")
    if total > WIRE_SIZE_LIMIT:
        raise ScenarioFailure(f"wire fixtures take {total} bytes, over the {WIRE_SIZE_LIMIT} limit")
    _cargo_test(ctx, "remoting", "java_fixtures", {"JAVA_WIRE_FIXTURES_DIR": str(out)})


# ============================================================================ store fixture

def _commitlog_reader(commitlog: Path, file_size: int):
    files = sorted(commitlog.iterdir())

    def record(phy: int) -> bytes:
        start = phy - phy % file_size
        path = commitlog / f"{start:020d}"
        with open(path, "rb") as f:
            f.seek(phy - start)
            head = f.read(4)
            (size,) = struct.unpack(">i", head)
            return head + f.read(size - 4)
    return files, record


def parse_record(rec: bytes) -> dict:
    """Python's reading of a CommitLog record (v1/v2 magic, IPv4/IPv6 hosts)."""
    total, magic, body_crc, queue_id, flag, queue_offset, phy, sys_flag, born_ts = struct.unpack(
        ">iiiiiqqiq", rec[:48])
    pos = 48
    born_v6 = sys_flag & (1 << 4)
    pos += 20 if born_v6 else 8
    (store_ts,) = struct.unpack(">q", rec[pos:pos + 8])
    pos += 8
    store_v6 = sys_flag & (1 << 5)
    pos += 20 if store_v6 else 8
    reconsume, prepared, body_len = struct.unpack(">iqi", rec[pos:pos + 16])
    pos += 16
    body = rec[pos:pos + body_len]
    pos += body_len
    if magic == struct.unpack(">i", bytes.fromhex("daa320ab"))[0]:
        (tlen,) = struct.unpack(">h", rec[pos:pos + 2])
        pos += 2
    else:
        tlen = rec[pos]
        pos += 1
    topic = rec[pos:pos + tlen].decode()
    pos += tlen
    (plen,) = struct.unpack(">h", rec[pos:pos + 2])
    props_text = rec[pos + 2:pos + 2 + plen].decode()
    props = {}
    for item in props_text.split("\x02"):
        if "\x01" in item:
            k, _, v = item.partition("\x01")
            props[k] = v
    if pos + 2 + plen != total:
        raise ScenarioFailure(f"record at {phy}: fields add up to {pos + 2 + plen}, TOTALSIZE {total}")
    return {"total": total, "queue_id": queue_id, "queue_offset": queue_offset, "phy": phy,
            "sys_flag": sys_flag, "store_timestamp": store_ts, "body": body, "topic": topic,
            "props": props, "body_crc": body_crc, "flag": flag, "reconsume": reconsume,
            "prepared": prepared}


def _java_string_hash(s: str) -> int:
    h = 0
    for unit in s.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def build_manifest(tsv: Path, store: Path, conf: dict[str, str]) -> dict:
    """The manifest of a store: what the Java client sent (TSV from FixtureMain store-produce), checked
    against and completed with Python's reading of the CommitLog records it points to."""
    file_size = int(conf["mappedFileSizeCommitLog"])
    _, record = _commitlog_reader(store / "commitlog", file_size)
    messages = []
    offsets: dict = {}
    for line in tsv.read_text(encoding="utf-8").splitlines():
        f = line.split("\t")
        if f[0] == "offset":
            offsets.setdefault(f[1], {}).setdefault(f[2], {})[f[3]] = int(f[4])
            continue
        (_, topic, qid, qoff, msg_id, off_id, keys, tags, tags_code, sha, blen, run_tag, idx, kind) = f
        phy = int(off_id[16:], 16)
        r = parse_record(record(phy))
        where = f"{topic}/{qid}/{qoff} at {phy}"
        if (r["topic"], r["queue_id"], r["queue_offset"], r["phy"]) != (topic, int(qid), int(qoff), phy):
            raise ScenarioFailure(f"{where}: record says {r['topic']}/{r['queue_id']}/{r['queue_offset']} "
                                  f"at {r['phy']}")
        body = r["body"]
        compressed = bool(r["sys_flag"] & 1)
        plain = zlib.decompress(body) if compressed else body
        if hashlib.sha256(plain).hexdigest() != sha:
            raise ScenarioFailure(f"{where}: stored body does not match what was sent")
        if r["props"].get("UNIQ_KEY") != msg_id or r["props"].get("KEYS") != keys \
                or r["props"].get("TAGS", "") != tags:
            raise ScenarioFailure(f"{where}: properties {r['props']} differ from what was sent")
        if int(tags_code) != (_java_string_hash(tags) if tags else 0):
            raise ScenarioFailure(f"{where}: tag hash {tags_code} differs from Python's")
        messages.append({
            "topic": topic, "queue_id": int(qid), "queue_offset": int(qoff), "msg_id": msg_id,
            "offset_msg_id": off_id, "keys": keys.split(" "), "tags": tags or None,
            "tags_code": int(tags_code), "body_len": int(blen), "body_sha256": sha,
            "batch": kind == "batch", "producer": run_tag, "index": int(idx),
            "properties": {k: v for k, v in r["props"].items() if k.startswith("fx-")},
            "stored": {"phy_offset": phy, "size": r["total"], "sys_flag": r["sys_flag"],
                       "compressed": compressed, "store_timestamp": r["store_timestamp"],
                       "body_len": len(body), "body_sha256": hashlib.sha256(body).hexdigest()},
        })
    messages.sort(key=lambda m: m["stored"]["phy_offset"])
    queues: dict = {}
    for m in messages:
        q = queues.setdefault(m["topic"], {}).setdefault(str(m["queue_id"]), {"min": 0, "max": 0})
        q["max"] = max(q["max"], m["queue_offset"] + 1)
    for t, qs in queues.items():
        for qid, q in qs.items():
            n = sum(1 for m in messages if m["topic"] == t and str(m["queue_id"]) == qid)
            if n != q["max"]:
                raise ScenarioFailure(f"{t}/{qid}: {n} messages but max offset {q['max']} (gaps?)")
    last = messages[-1]["stored"]
    return {
        "generated_by": "compat-tests: COMPAT_WRITE_FIXTURES=1 compat-tests/run fixtures/store/java-writes",
        "broker": f"Java reference broker {config.REFERENCE_VERSION}",
        "producers": sorted({m["producer"] for m in messages}),
        "store_config": {k: conf[k] for k in sorted(conf)},
        "commitlog": {"min_offset": 0, "max_offset": last["phy_offset"] + last["size"],
                      "files": sorted(p.name for p in (store / "commitlog").iterdir())},
        "queues": queues,
        "consumer_offsets": offsets,
        "messages": messages,
    }


def manifest_to_tsv(manifest: dict, out: Path) -> Path:
    """The manifest in the TSV form compat.FixtureMain store-consume reads."""
    lines = []
    for m in manifest["messages"]:
        lines.append("\t".join(["msg", m["topic"], str(m["queue_id"]), str(m["queue_offset"]), m["msg_id"],
                                m["offset_msg_id"], " ".join(m["keys"]), m["tags"] or "", str(m["tags_code"]),
                                m["body_sha256"], str(m["body_len"]), m["producer"], str(m["index"]),
                                "batch" if m["batch"] else "single"]))
    for group, topics in manifest["consumer_offsets"].items():
        for t, qs in topics.items():
            for q, off in qs.items():
                lines.append("\t".join(["offset", group, t, q, str(off)]))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


# What of a broker's store directory the fixture keeps (lock, abort, timer files are left out).
STORE_KEEP = ("commitlog", "consumequeue", "index", "checkpoint", "config")


def copy_store(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in STORE_KEEP:
        p = src / name
        if p.is_dir():
            shutil.copytree(p, dst / name)
        elif p.exists():
            shutil.copy2(p, dst / name)
    # config/*.bak are the previous versions Java keeps; not part of the fixture.
    for bak in (dst / "config").glob("*.bak"):
        bak.unlink()


def _produce(ctx, ns_addr: str, broker_addr: str, tsv: Path, what: str) -> None:
    for v in config.JAVA_CLIENT_VERSIONS:
        tag = "c" + v.replace(".", "")
        argv = ["store-produce", "--ns", ns_addr, "--broker", broker_addr, "--tag", tag, "--n", "300",
                "--manifest", str(tsv)]
        if v == config.JAVA_CLIENT_VERSIONS[-1]:
            argv += ["--commit-group", COMMIT_GROUP]
        rc, out = _java(ctx, v, argv, 180, what=f"{what}-produce-{v}")
        check_program(rc, out, f"java client {v} producing", ctx.log_path(f"{what}-produce-{v}"))


def _consume(ctx, ns_addr: str, tsv: Path, what: str) -> None:
    for group in (COMMIT_GROUP, "FixFresh"):
        rc, out = _java(ctx, config.JAVA_CLIENT_VERSIONS[0], ["store-consume", "--ns", ns_addr, "--group",
                                                                group, "--manifest", str(tsv)],
                        150, what=f"{what}-consume-{group}")
        check_program(rc, out, f"java consumer {group}", ctx.log_path(f"{what}-consume-{group}"))


def _start_cluster(ctx, servers: _Servers, base: Path, broker_impl: str, store: Path, conf: dict):
    ns = servers.add(NameServer("java", base / "namesrv", ctx.toolchain))
    ns.start()
    broker = servers.add(FixtureBroker(broker_impl, base / f"broker-{broker_impl}", ctx.toolchain, ns,
                                       store, conf))
    broker.start()
    broker.wait_registered(config.BROKER_REGISTER_TIMEOUT)
    return ns, broker


def _start_broker(ctx, servers: _Servers, ns: NameServer, base: Path, impl: str, store: Path, conf: dict):
    broker = servers.add(FixtureBroker(impl, base / f"broker-{impl}", ctx.toolchain, ns, store, conf))
    broker.start()
    broker.wait_registered(config.BROKER_REGISTER_TIMEOUT)
    return broker


@scenario("fixtures/store/java-writes", tags=("fixtures", "store", "java"))
def store_java_writes(ctx):
    conf = _read_conf(STORE_CONF)
    base = ctx.run_dir / "fixtures-store-java"
    store = base / "store"
    tsv = base / "sent.tsv"
    servers = _Servers()
    try:
        ns, broker = _start_cluster(ctx, servers, base, "java", store, conf)
        _produce(ctx, ns.addr, broker.addr, tsv, "java-writes")
        broker.stop_clean()
    finally:
        servers.close()
    manifest = build_manifest(tsv, store, conf)
    if len(manifest["commitlog"]["files"]) < 3:
        raise ScenarioFailure(f"expected several CommitLog files, got {manifest['commitlog']['files']}")
    out = STORE_FIXTURE if WRITE else ctx.run_dir / "store-fixture"
    copy_store(store, out / "store")
    shutil.copy2(STORE_CONF, out / "store.conf")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    ctx.note(f"store fixture: {len(manifest['messages'])} messages, {size} bytes in {out}")
    _cargo_test(ctx, "store", "java_fixtures", {"STORE_JAVA_FIXTURE_DIR": str(out)})


def _fixture_copy(ctx, base: Path) -> tuple[Path, Path, dict]:
    manifest_path = STORE_FIXTURE / "manifest.json"
    if not manifest_path.exists():
        raise ScenarioFailure(f"{manifest_path} does not exist (generate it: see fixtures.py)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    store = base / "store"
    shutil.copytree(STORE_FIXTURE / "store", store)
    tsv = manifest_to_tsv(manifest, base / "manifest.tsv")
    return store, tsv, manifest


def _serve_fixture(ctx, impl: str):
    conf = _read_conf(STORE_FIXTURE / "store.conf")
    base = ctx.run_dir / f"fixtures-store-java-to-{impl}"
    store, tsv, _ = _fixture_copy(ctx, base)
    servers = _Servers()
    try:
        ns, broker = _start_cluster(ctx, servers, base, impl, store, conf)
        _consume(ctx, ns.addr, tsv, f"java-to-{impl}")
    finally:
        servers.close()


@scenario("fixtures/store/java-to-java", tags=("fixtures", "store", "java"))
def store_java_to_java(ctx):
    _serve_fixture(ctx, "java")


@scenario("fixtures/store/java-to-ours", tags=("fixtures", "store", "broker"))
def store_java_to_ours(ctx):
    _serve_fixture(ctx, "ours")


@scenario("fixtures/store/ours-to-java", tags=("fixtures", "store", "broker"))
def store_ours_to_java(ctx):
    conf = _read_conf(STORE_CONF)
    base = ctx.run_dir / "fixtures-store-ours-to-java"
    store = base / "store"
    tsv = base / "sent.tsv"
    servers = _Servers()
    try:
        ns = servers.add(NameServer("java", base / "namesrv", ctx.toolchain))
        ns.start()
        ours = _start_broker(ctx, servers, ns, base, "ours", store, conf)
        _produce(ctx, ns.addr, ours.addr, tsv, "ours-to-java")
        ours.stop_clean(60)
        servers.items.remove(ours)
        # Python's reading of what our broker wrote must match what was sent, before Java reads it.
        build_manifest(tsv, store, conf)
        _start_broker(ctx, servers, ns, base, "java", store, conf)
        _consume(ctx, ns.addr, tsv, "ours-to-java")
    finally:
        servers.close()
