"""The two exceptions a node raises to talk to the engine."""

from __future__ import annotations


class NodeError(Exception):
    """A failure a node explains to the user; its message is shown as is, on the node."""


class Cancelled(Exception):
    """Raised inside a node by ``check_cancelled()`` once the user has cancelled the run."""
