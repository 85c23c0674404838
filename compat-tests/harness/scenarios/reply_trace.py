"""Request-reply and message trace (issue 5) with the official clients against OUR broker and
nameserver (``--core-broker java`` / ``--core-ns java``: the Java reference, to check the
scenarios themselves). The programs are ``compat.Core reply|trace`` (CoreReply.java,
CoreTrace.java) and ``compat-go core-reply|core-trace`` (go/reply.go, go/trace.go).

* ``broker/<client>/request-reply`` (cluster ``core``): a responder (push consumer + producer)
  answers each request with ``createReplyMessage`` + send (SEND_REPLY_MESSAGE(_V2)); the
  requester's ``request(msg, timeout)`` gets the reply the broker pushes to it
  (PUSH_REPLY_MESSAGE_TO_CLIENT), with body, correlation id, reply topic and the broker's
  PUSH_REPLY_TIME; the replies are also stored in ``DefaultCluster_REPLY_TOPIC``.
* ``broker/<client>/msg-trace`` (cluster ``core-trace``, ``traceTopicEnable=true``): a
  producer and a push consumer with ``enableMsgTrace`` write their trace records to
  ``RMQ_SYS_TRACE_TOPIC``; the program reads the topic back and finds the Pub, SubBefore and
  SubAfter records of every message.
"""

from __future__ import annotations

from .. import config
from ..scenario import scenario
from .broker_core import CLIENTS, CORE, _define_cluster, _run_case

CORE_TRACE = _define_cluster("core-trace", {"traceTopicEnable": "true"})


def _case(client: str, case: str, key: str, opts: dict[str, object]):
    def fn(ctx):
        _run_case(ctx, client, case, key, opts)
    return fn


for _client in CLIENTS:
    _opts: dict[str, object] = {"n": 10}
    if _client.startswith("java-"):
        _opts["cluster"] = config.CLUSTER_NAME  # go/reply.go: DefaultCluster, fixed
    scenario(f"broker/{_client}/request-reply", tags=("broker", "core", "reply", _client.split("-")[0]),
             clusters=(CORE,))(_case(_client, "reply", CORE, _opts))

for _client in CLIENTS:
    scenario(f"broker/{_client}/msg-trace", tags=("broker", "core", "trace", _client.split("-")[0]),
             clusters=(CORE_TRACE,))(_case(_client, "trace", CORE_TRACE, {"n": 20}))
