"""The graph model: node specs, the registry, Graph/Node/Link, the file format and validation.

Qt-free and torch-free, so it runs headless, in the CLI and in tests.
"""

from studio.graph.fileformat import (
    GraphFileError,
    dumps_graph,
    graph_from_dict,
    graph_to_dict,
    load_graph,
    loads_graph,
    save_graph,
)
from studio.graph.model import Graph, GraphChange, GraphEditError, Group, Link, Node
from studio.graph.registry import NodeRegistry
from studio.graph.spec import InputSpec, NodeSpec, OutputSpec, ParamSpec, node_type
from studio.graph.validate import GraphInvalid, Problem, errors, validate

__all__ = [
    "Graph",
    "GraphChange",
    "GraphEditError",
    "GraphFileError",
    "GraphInvalid",
    "Group",
    "InputSpec",
    "Link",
    "Node",
    "NodeRegistry",
    "NodeSpec",
    "OutputSpec",
    "ParamSpec",
    "Problem",
    "dumps_graph",
    "errors",
    "graph_from_dict",
    "graph_to_dict",
    "load_graph",
    "loads_graph",
    "node_type",
    "save_graph",
    "validate",
]
