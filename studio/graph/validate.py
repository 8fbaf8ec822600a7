"""Validation: every problem of a graph against a registry, found at once, before anything runs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from studio.graph import walk
from studio.graph.model import Graph, Node
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec
from studio.graph.types import can_connect

CYCLE_SHOWN = 12  # a cycle of more nodes is shown abbreviated
CYCLE_MARKED = 100  # nodes on a larger cycle are not each reported
ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem, naming the node, its type and the port or parameter concerned."""

    message: str
    node_id: str | None = None
    node_type: str | None = None
    port: str | None = None  # an input, output or parameter name
    severity: str = ERROR

    def __str__(self) -> str:
        if self.node_id is None:
            return self.message
        return f"{self.node_id} ({self.node_type or '?'}): {self.message}"


class GraphInvalid(ValueError):
    """Raised instead of running a graph that has errors. ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == ERROR]


def node_params(node: Node, spec: NodeSpec) -> dict:
    """A node's declared parameters, upgraded to its spec's version, with defaults filled in.

    Saved parameters the spec does not declare are left out (validation warns about them):
    they must reach neither the compute function nor the cache key. They stay in
    ``node.params``, so saving the graph keeps them.
    """
    params = spec.default_params()
    upgraded = spec.upgrade_params(node.params, node.type_version)
    params.update((name, value) for name, value in upgraded.items() if name in params)
    return params


def validate(graph: Graph, registry: NodeRegistry) -> list[Problem]:
    problems: list[Problem] = []
    ids = Counter(n.id for n in graph.nodes)
    for node_id, count in ids.items():
        if count > 1:
            first = graph.node(node_id)
            problems.append(Problem(f"the id is used by {count} nodes; ids must be unique", node_id, first.type))

    linked_into: Counter[tuple[str, str]] = Counter(lk.target for lk in graph.links)
    for node in graph.nodes:
        problems.extend(_check_node(graph, node, registry, linked_into))
    problems.extend(_check_links(graph, registry, linked_into))
    problems.extend(_check_cycles(graph))
    if graph.nodes and not any((s := registry.get(n.type)) is not None and s.output for n in graph.nodes):
        problems.append(
            Problem("nothing to run: the graph has no output node (SaveVideo or PreviewVideo)", severity=WARNING)
        )
    return problems


def _check_node(graph: Graph, node: Node, registry: NodeRegistry, linked_into: Counter) -> list[Problem]:
    spec = registry.get(node.type)
    if spec is None:
        return [Problem(f"unknown node type {node.type!r}; is a node pack missing?", node.id, node.type)]
    out: list[Problem] = []
    if node.type_version > spec.version:
        out.append(
            Problem(
                f"saved by a newer {spec.type} (type_version {node.type_version}, this studio has {spec.version})",
                node.id,
                node.type,
            )
        )
        return out
    try:
        params = node_params(node, spec)
    except Exception as exc:  # a migration that chokes on odd saved values
        return [Problem(f"cannot upgrade its parameters from version {node.type_version}: {exc}", node.id, node.type)]
    for param in spec.params:
        if (node.id, param.name) in linked_into:
            continue  # promoted to an input: the wire supplies the value
        problem = param.check(params[param.name])
        if problem:
            out.append(Problem(f"{param.name} {problem}", node.id, node.type, param.name))
    for name in node.params:
        if spec.param(name) is None:
            out.append(Problem(f"unknown parameter {name!r} is ignored", node.id, node.type, name, WARNING))
    for port in spec.inputs:
        if not port.optional and (node.id, port.name) not in linked_into:
            out.append(
                Problem(f"required input {port.name!r} ({port.type}) is not connected", node.id, node.type, port.name)
            )
    return out


def _check_links(graph: Graph, registry: NodeRegistry, linked_into: Counter) -> list[Problem]:
    out: list[Problem] = []
    reported_multi: set[tuple[str, str]] = set()
    for link in graph.links:
        dst = graph.node(link.to_node) if link.to_node in graph else None
        src = graph.node(link.from_node) if link.from_node in graph else None
        dst_spec = registry.get(dst.type) if dst else None
        src_spec = registry.get(src.type) if src else None
        if src is None or dst is None:
            missing = link.from_node if src is None else link.to_node
            node_id, node_type = (dst.id, dst.type) if dst else (link.to_node, None)
            out.append(
                Problem(
                    f"link {link} comes from or goes to a missing node {missing!r}", node_id, node_type, link.to_port
                )
            )
            continue
        if link.from_node == link.to_node:
            out.append(Problem(f"link {link} connects the node to itself", dst.id, dst.type, link.to_port))
            continue
        if linked_into[link.target] > 1 and link.target not in reported_multi:
            reported_multi.add(link.target)
            out.append(
                Problem(
                    f"input {link.to_port!r} has {linked_into[link.target]} links; it takes one",
                    dst.id,
                    dst.type,
                    link.to_port,
                )
            )
        out_type = None
        if src_spec is not None:
            port = src_spec.output_port(link.from_port)
            if port is None:
                names = ", ".join(p.name for p in src_spec.outputs) or "none"
                out.append(
                    Problem(f"has no output {link.from_port!r} (outputs: {names})", src.id, src.type, link.from_port)
                )
            else:
                out_type = port.type
        if dst_spec is not None:
            in_type = dst_spec.input_type(link.to_port)
            if in_type is None:
                names = ", ".join(p.name for p in dst_spec.inputs) or "none"
                out.append(Problem(f"has no input {link.to_port!r} (inputs: {names})", dst.id, dst.type, link.to_port))
            elif out_type is not None and not can_connect(out_type, in_type):
                out.append(
                    Problem(
                        f"input {link.to_port!r} expects {in_type} but {src.id}.{link.from_port} gives {out_type}",
                        dst.id,
                        dst.type,
                        link.to_port,
                    )
                )
    return out


def _check_cycles(graph: Graph) -> list[Problem]:
    """Each separate cycle, reported on the nodes that lie on it (not those downstream of it)."""
    out: list[Problem] = []
    edges = ((lk.from_node, lk.to_node) for lk in graph.links)
    for cycle in walk.cycles([n.id for n in graph.nodes], edges):
        first = graph.node(cycle[0])
        if len(cycle) <= CYCLE_SHOWN:
            path = " -> ".join(cycle)
        else:  # a ring of thousands (a hostile file) is one readable line, not a megabyte
            path = f"{' -> '.join(cycle[:4])} -> … -> {cycle[-1]}, {len(cycle):,} nodes"
        out.append(Problem(f"is part of a cycle ({path}); links must not loop back", first.id, first.type))
        if len(cycle) <= CYCLE_MARKED:  # each node on a small cycle is marked in the editor too
            out.extend(Problem("is part of the same cycle", n, graph.node(n).type) for n in cycle[1:])
    return out
