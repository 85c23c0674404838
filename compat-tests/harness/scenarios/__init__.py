"""Scenario modules. Importing this package registers every scenario, in run order."""

from . import clients, mqadmin  # noqa: F401  (registration side effects, in this order)
