"""The exceptions a node raises to talk to the engine."""

from __future__ import annotations

from collections.abc import Iterable


class NodeError(Exception):
    """A failure a node explains to the user; its message is shown as is, on the node."""


class MissingFiles(NodeError):
    """A NodeError for files the user does not have (a model not in the model folders). ``paths``
    names them as the graph gives them, so a memory estimate can say what it could not measure
    instead of counting them as nothing."""

    def __init__(self, message: str, paths: Iterable[str]) -> None:
        super().__init__(message)
        self.paths = tuple(paths)


class Cancelled(Exception):
    """Raised inside a node by ``check_cancelled()`` once the user has cancelled the run."""
