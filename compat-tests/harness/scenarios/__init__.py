"""Scenario modules. Importing this package registers every scenario, in run order."""

from . import clients, mqadmin  # noqa: F401  (registration side effects, in this order)
from . import fixtures  # noqa: F401,E402  (wire and store fixtures, issues 2 and 3)
from . import broker_core  # noqa: F401,E402  (official clients against our broker, issue 4)
from . import delivery  # noqa: F401,E402  (retry/DLQ, delay, transactions, orderly, queries, issue 5)
from . import sql92  # noqa: F401,E402  (SQL92 property filtering, official Java clients against our broker)
from . import security  # noqa: F401,E402  (ACL 1.0 and TLS, official Java clients against our broker)
from . import reply_trace  # noqa: F401,E402  (request-reply and message trace, issue 5)
from . import admin  # noqa: F401,E402  (the admin surface: mqadmin against our namesrv + broker, issue 6)
