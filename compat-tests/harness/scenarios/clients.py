"""Official clients producing and consuming through the TARGET cluster.

Issue #2: our nameserver with the Java reference broker registered to it; the
Java client 4.9.8 and 5.5.0 and the Go client create a topic, wait for its route,
send messages synchronously with keys, tags and user properties, then
push-consume all of them and check every field. The checking is done by the
client programs (java/src/main/java/compat/SendPush.java, go/main.go).
"""

from __future__ import annotations

from ..config import CLIENT_SCENARIO_TIMEOUT, JAVA_CLIENT_VERSIONS
from ..scenario import TARGET, check_program, scenario
from ..util import ScenarioFailure

MESSAGES = 100


def _java_send_push(version: str):
    def run(ctx):
        c = ctx.cluster(TARGET)
        rc, out = ctx.java(version, ["send-push", "--ns", c.namesrv.addr, "--broker", c.broker.addr,
                                     "--n", str(MESSAGES)], CLIENT_SCENARIO_TIMEOUT)
        check_program(rc, out, f"java client {version}", ctx.log_path("java"))
        # Proves the runtime classpath really carried this client version.
        want = "client V" + version.replace(".", "_")
        if want not in out:
            raise ScenarioFailure(f"expected the program to report '{want}' (wrong classpath?)")
    return run


for _v in JAVA_CLIENT_VERSIONS:
    scenario(f"clients/java-{_v}/send-sync-push", tags=("namesrv", "clients", "java"),
             clusters=(TARGET,))(_java_send_push(_v))


@scenario("clients/go-2.1.2/send-sync-push", tags=("namesrv", "clients", "go"), clusters=(TARGET,))
def go_send_push(ctx):
    c = ctx.cluster(TARGET)
    rc, out = ctx.go(["send-push", "-ns", c.namesrv.addr, "-broker", c.broker.addr, "-n", str(MESSAGES)],
                     CLIENT_SCENARIO_TIMEOUT)
    check_program(rc, out, "go client", ctx.log_path("go"))
