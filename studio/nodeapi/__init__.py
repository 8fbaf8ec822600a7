"""What a node may use: its errors, the run context's protocol, output files and model families.

Node libraries (the built-in ``nodes`` package and third-party packs) import from here and
from ``studio.graph`` (declarations) and ``studio.media`` (media I/O), never from the engine or
the UI; import-linter checks this.
"""

from studio.nodeapi.context import ATTENTION_BACKENDS, NodeContext, RunSettings
from studio.nodeapi.errors import Cancelled, MissingFiles, NodeError
from studio.nodeapi.families import FamilyRegistry, FamilySpec
from studio.nodeapi.outputs import graph_metadata, write_numbered

__all__ = [
    "ATTENTION_BACKENDS",
    "Cancelled",
    "FamilyRegistry",
    "FamilySpec",
    "MissingFiles",
    "NodeContext",
    "NodeError",
    "RunSettings",
    "graph_metadata",
    "write_numbered",
]
