"""mqadmin against a Java nameserver and against ours, outputs compared.

Two clusters run side by side with the same Java broker config: REFERENCE (Java
namesrv) and CANDIDATE (the --ns namesrv, ours by default). For each mqadmin
version, one script of commands runs against each cluster (one JVM per cluster,
see java/.../AdminBatch.java), in the same order, so both nameservers go through
the same state changes. Each scenario then compares the outputs of its steps
after normalising what differs by nature:

* ports of the cluster -> NAMESRV_PORT / BROKER_PORT / ..., its temp dir -> <CLUSTER_DIR>
* 13-digit epoch-millisecond numbers -> <TIMESTAMP>
* runs of blanks inside a line -> one blank (column widths follow address lengths)
* ``topicList``: line order (Java prints a HashMap key set)
* ``getNamesrvConfig``: line order (Java prints a Properties table)
* ``clusterList``: the broker's live statistics columns (TPS, hours, disk ratio)

Every step also has a pattern the REFERENCE output must match, so a scenario
cannot pass because both sides failed the same way.

State: the mqadmin 4.9.8 script runs first, then 5.5.0, each with its own topic
and KV namespace; ``wipeWritePerm`` is followed by ``addWritePerm`` so the next
script starts from a writable broker again.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass

from ..config import BROKER_NAME, CLUSTER_NAME, MQADMIN_COMMAND_TIMEOUT, MQADMIN_VERSIONS
from ..scenario import CANDIDATE, REFERENCE, scenario
from ..servers import Cluster
from ..util import ScenarioFailure, last_line


@dataclass(frozen=True)
class Step:
    scenario: str            # the scenario (mqadmin command) that reports this step
    argv: tuple[str, ...]    # "{ns}" / "{broker}": the cluster's nameserver / broker address
    expect: str              # regex the REFERENCE output must contain
    kind: str = "text"       # normaliser: text | sorted | config | clusterList


def steps(version: str) -> list[Step]:
    v = version.replace(".", "_")
    topic = f"compat_admin_{v}"
    topic_b = f"compat_admin_b_{v}"
    kvns = f"compat_ns_{v}"
    ns = "{ns}"
    return [
        Step("clusterList", ("clusterList", "-n", ns), rf"{CLUSTER_NAME}\s+{BROKER_NAME}", "clusterList"),
        Step("topicList", ("topicList", "-n", ns), r"(?m)^TBW102$", "sorted"),
        Step("updateTopic", ("updateTopic", "-n", ns, "-c", CLUSTER_NAME, "-t", topic), r"success"),
        Step("updateTopic", ("compat:wait-route", topic, "present", "15000"), r"route present"),
        Step("updateTopic", ("updateTopic", "-n", ns, "-b", "{broker}", "-t", topic_b, "-r", "2", "-w", "3",
                             "-p", "6"), r"success"),
        Step("updateTopic", ("compat:wait-route", topic_b, "present", "15000"), r"route present"),
        Step("topicRoute", ("topicRoute", "-n", ns, "-t", topic), rf'"brokerName":"{BROKER_NAME}"'),
        Step("topicRoute", ("topicRoute", "-n", ns, "-t", topic_b), r'"writeQueueNums":3'),
        Step("updateKvConfig", ("updateKvConfig", "-n", ns, "-s", kvns, "-k", "compatKey", "-v",
                                "compatValue"), r"success"),
        Step("updateKvConfig", ("compat:kv-get", kvns, "compatKey"), r"value=compatValue"),
        Step("updateKvConfig", ("compat:kv-list", kvns), r"compatKey=compatValue"),
        Step("getNamesrvConfig", ("getNamesrvConfig", "-n", ns), r"listenPort", "config"),
        Step("deleteTopic", ("deleteTopic", "-n", ns, "-c", CLUSTER_NAME, "-t", topic), r"success"),
        Step("deleteTopic", ("compat:wait-route", topic, "absent", "15000"), r"route absent"),
        Step("deleteTopic", ("topicRoute", "-n", ns, "-t", topic), r"CODE: 17"),
        Step("deleteTopic", ("deleteTopic", "-n", ns, "-c", CLUSTER_NAME, "-t", topic_b), r"success"),
        Step("deleteTopic", ("compat:wait-route", topic_b, "absent", "15000"), r"route absent"),
        # A full broker registration with a new data version first: the nameserver then resets every
        # queue's perm to the broker's own. Without it the perm before the wipe depends on whether the
        # broker's 30 s periodic registration (which carries deleteTopic's version bump) came yet.
        Step("wipeWritePerm", ("updateBrokerConfig", "-n", ns, "-b", "{broker}", "-k", "brokerPermission",
                               "-v", "6"), r"success"),
        Step("wipeWritePerm", ("topicRoute", "-n", ns, "-t", "TBW102"), r'"perm":7'),
        Step("wipeWritePerm", ("wipeWritePerm", "-n", ns, "-b", BROKER_NAME), r"OK, \d+"),
        Step("wipeWritePerm", ("topicRoute", "-n", ns, "-t", "TBW102"), r'"perm":5'),
        Step("addWritePerm", ("addWritePerm", "-n", ns, "-b", BROKER_NAME), r"OK, \d+"),
        Step("addWritePerm", ("topicRoute", "-n", ns, "-t", "TBW102"), r'"perm":6'),
    ]


# --------------------------------------------------------------------------- running the scripts

@dataclass
class BatchResult:
    outputs: list[str | None]   # per step; None if the batch never got there
    problem: str                # why it stopped early ("" if it ran to the end)


def _run_batch(ctx, version: str, key: str, cluster: Cluster) -> BatchResult:
    work = ctx.run_dir / "mqadmin" / version / key
    out_dir = work / "out"
    work.mkdir(parents=True, exist_ok=True)
    script = work / "script.txt"
    st = steps(version)
    with open(script, "w", encoding="utf-8") as f:
        for s in st:
            f.write("\t".join(a.replace("{ns}", cluster.namesrv.addr).replace("{broker}", cluster.broker.addr)
                              for a in s.argv) + "\n")
    timeout = len(st) * MQADMIN_COMMAND_TIMEOUT + 60
    rc, out = ctx.java(version, ["admin-batch", "--ns", cluster.namesrv.addr, "--script", str(script),
                                 "--out", str(out_dir),
                                 "--command-timeout-ms", str(MQADMIN_COMMAND_TIMEOUT * 1000),
                                 "--hard-timeout-ms", str(int(timeout * 1000))],
                       timeout, what=f"mqadmin-{version}-{key}")
    outputs: list[str | None] = []
    for i in range(len(st)):
        p = out_dir / f"{i}.out"
        outputs.append(p.read_text(encoding="utf-8", errors="replace") if p.exists() else None)
    problem = "" if rc == 0 else f"admin batch exit {rc}: {last_line(out)}"
    return BatchResult(outputs, problem)


def batch(ctx, version: str) -> dict[str, BatchResult]:
    """Runs the script for ``version`` on both clusters (once per run), in parallel."""
    memo_key = ("mqadmin-batch", version)
    if memo_key in ctx.memo:
        return ctx.memo[memo_key]
    ref, cand = ctx.clusters_parallel(REFERENCE, CANDIDATE)
    ctx.toolchain.java_classpath(version)  # build before the threads start
    results: dict[str, BatchResult] = {}

    def go(key, cluster):
        try:
            results[key] = _run_batch(ctx, version, key, cluster)
        except ScenarioFailure as e:
            results[key] = BatchResult([None] * len(steps(version)), e.reason)
    threads = [threading.Thread(target=go, args=(REFERENCE, ref)),
               threading.Thread(target=go, args=(CANDIDATE, cand))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.memo[memo_key] = results
    return results


# --------------------------------------------------------------------------- normalising

_TIMESTAMP = re.compile(r"(?<!\d)1\d{12}(?!\d)")
_BLANKS = re.compile(r"(?<=\S)[ \t]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalize(text: str, kind: str, cluster: Cluster) -> list[str]:
    text = text.replace(str(cluster.dir), "<CLUSTER_DIR>")
    for port, role in cluster.port_roles().items():
        text = re.sub(rf"(?<!\d){port}(?!\d)", role, text)
    text = _TIMESTAMP.sub("<TIMESTAMP>", text)
    lines = []
    for ln in text.splitlines():
        ln = _BLANKS.sub(" ", ln).rstrip()
        if ln:
            lines.append(ln)
    if kind == "sorted":
        lines.sort()
    elif kind == "config":
        lines.sort(key=lambda ln: (not ln.startswith("="), ln))
    elif kind == "clusterList":
        out = []
        for ln in lines:
            tokens = ln.split(" ")
            if not ln.startswith(("#", "\t", " ")) and len(tokens) > 5 and "Exception" not in ln:
                # cluster, broker, BID, address, version stay; live statistics do not.
                tokens = tokens[:5] + [_NUMBER.sub("N", t) for t in tokens[5:]]
            out.append(" ".join(tokens))
        lines = out
    return lines


def _label(argv: tuple[str, ...]) -> str:
    return " ".join(a for a in argv if a not in ("{ns}", "-n"))


def compare(ctx, version: str, name: str) -> None:
    results = batch(ctx, version)
    ref_c, cand_c = ctx.clusters[REFERENCE], ctx.clusters[CANDIDATE]
    cand_impl = ctx.spec(CANDIDATE).ns
    failures, details = [], []
    for i, st in enumerate(steps(version)):
        if st.scenario != name:
            continue
        ref_out, cand_out = results[REFERENCE].outputs[i], results[CANDIDATE].outputs[i]
        label = _label(st.argv)
        if ref_out is None:
            raise ScenarioFailure(f"`{label}` did not run on the Java namesrv cluster: "
                                  f"{results[REFERENCE].problem or 'no output'}")
        if not re.search(st.expect, ref_out):
            raise ScenarioFailure(
                f"Java namesrv output of `{label}` does not match /{st.expect}/ (harness or reference problem)",
                "\n".join("    | " + ln for ln in ref_out.splitlines()[:40]))
        if cand_out is None:
            failures.append(f"`{label}` did not run on the {cand_impl} namesrv cluster: "
                            f"{results[CANDIDATE].problem or 'no output'}")
            continue
        a = normalize(ref_out, st.kind, ref_c)
        b = normalize(cand_out, st.kind, cand_c)
        if a != b:
            failures.append(f"`{label}` output differs")
            diff = difflib.unified_diff(a, b, f"java-namesrv: {label}", f"{cand_impl}-namesrv: {label}",
                                        lineterm="", n=2)
            lines = list(diff)
            shown = lines[:60] + ([f"... {len(lines) - 60} more diff lines"] if len(lines) > 60 else [])
            details.append("\n".join("    " + ln for ln in shown))
    if failures:
        out_dir = ctx.run_dir / "mqadmin" / version
        raise ScenarioFailure("; ".join(failures),
                              "\n".join(details) + f"\n    raw outputs under {out_dir}/*/out/")


def _command_names(version: str) -> list[str]:
    names: list[str] = []
    for st in steps(version):
        if st.scenario not in names:
            names.append(st.scenario)
    return names


def _register(version: str, name: str) -> None:
    scenario(f"mqadmin/{version}/{name}", tags=("namesrv", "mqadmin"),
             clusters=(REFERENCE, CANDIDATE))(lambda ctx: compare(ctx, version, name))


for _v in MQADMIN_VERSIONS:
    for _n in _command_names(_v):
        _register(_v, _n)
