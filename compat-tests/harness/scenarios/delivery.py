"""Delivery semantics end to end (issue 5): retry and DLQ, delay levels, transactions, orderly
consumption with two consumers, and message queries, through the official clients against OUR
broker and OUR nameserver (``--core-broker java`` / ``--core-ns java`` check the scenarios against
the Java reference, as for ``broker/*``).

Programs: ``compat.Core <case>`` (java/.../CoreDelivery.java) and ``compat-go core-<case>``
(go/delivery.go). Go runs every case but ``queries`` (the Go client v2.1.2 has no query API).

One cluster, key ``core-delivery``, whose broker.conf adds short delay levels (level 1 = 1 s,
level 2 = 2 s, every other level 1 s, so that the retries of RECONSUME_LATER, levels 3 + reconsume
times, come after a second) and a transaction check every 4 s for halves older than 4 s.
"""

from __future__ import annotations

from ..scenario import scenario
from .broker_core import CLIENTS, GO, _define_cluster, _run_case

CORE_DELIVERY = "core-delivery"

# Java's messageDelayLevel has 18 levels; the retry of the n-th RECONSUME_LATER uses level 2 + n.
DELAY_LEVELS = " ".join(["1s", "2s"] + ["1s"] * 16)

_define_cluster(CORE_DELIVERY, {
    "messageDelayLevel": DELAY_LEVELS,
    # Both above the Java 5.x broker's op-record batching (transactionOpBatchInterval, 3 s): with less it checks
    # halves whose end (by the producer, or by the answer to the previous check) it has not written down yet,
    # and a second COMMIT delivers them twice.
    "transactionCheckInterval": 4000,
    "transactionTimeOut": 4000,
})

# (scenario name, program case, options); the program's own time limit is broker_core's.
CASES = (
    ("retry-dlq", "retry-dlq", {"n": 8}),
    ("delay", "delay", {"n": 9}),
    ("transaction", "transaction", {"n": 12}),
    ("orderly-lock", "orderly-lock", {"n": 160}),
    ("queries", "queries", {"n": 10}),
)
GO_LACKS = {"queries"}


def _case(client: str, case: str, opts: dict[str, object]):
    def fn(ctx):
        _run_case(ctx, client, case, CORE_DELIVERY, opts)
    return fn


for _name, _case_name, _opts in CASES:
    for _client in CLIENTS:
        if _client == GO and _name in GO_LACKS:
            continue
        scenario(f"broker/{_client}/{_name}", tags=("broker", "core", "delivery", _client.split("-")[0]),
                 clusters=(CORE_DELIVERY,))(_case(_client, _case_name, _opts))
