"""The graph file format (``*.graph.json``, DESIGN.md §5).

Loading is two stages, as in Orange's canvas: parse the JSON into checked plain records,
then build a :class:`Graph`. A file is data only: nothing is evaluated, imported or
unpickled, and the parser refuses NaN, infinities, text that is not valid Unicode (lone
surrogates), absurd sizes and absurd nesting. Saving refuses the same values, so what is
written is always valid JSON in UTF-8 that loads back.
Node types are not checked here (that is validation's job), so a graph with unknown node
types still opens and keeps every node.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.files import atomic_write_bytes
from studio.graph.model import Graph, Group, Link, Node
from studio.textsafe import safe

FORMAT = "studio.graph"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_ID_LENGTH = 200
MAX_NODES = 100_000

_NODE_KEYS = {"id", "type", "type_version", "params", "position"}
_LINK_KEYS = {"from", "to"}
_GROUP_KEYS = {"id", "title", "color", "bounds"}
_TOP_KEYS = {"format", "version", "nodes", "links", "groups", "meta"}

# Migrations from older format versions: version -> function returning the next version's dict.
# Version 1 is the first public format; add entries here when the format changes.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class GraphFileError(ValueError):
    """A graph file that cannot be read, or a graph that cannot be written as one.

    ``problems`` has one line per problem."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in problems))


# ---- loading ---------------------------------------------------------------------------
def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Read a graph file. Raises :class:`GraphFileError` listing every problem found."""
    source = str(path)
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            raise GraphFileError([f"file is {size} bytes, larger than the {MAX_FILE_BYTES} allowed"], source)
        raw = Path(path).read_bytes()
    except GraphFileError:
        raise
    except OSError as exc:
        raise GraphFileError([f"cannot read the file: {exc.strerror or exc}"], source) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphFileError([f"not UTF-8 text (byte {exc.start})"], source) from None
    return loads_graph(text, source=source)


def loads_graph(text: str, source: str = "") -> Graph:
    """Parse graph JSON text into a Graph."""
    if len(text) > MAX_FILE_BYTES:
        raise GraphFileError([f"text is larger than the {MAX_FILE_BYTES} bytes allowed"], source)
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise GraphFileError(["the JSON is nested too deeply"], source) from None
    except json.JSONDecodeError as exc:
        raise GraphFileError([f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"], source) from None
    except ValueError as exc:  # huge integers, NaN/Infinity, overflowing floats
        raise GraphFileError([f"not acceptable JSON: {exc}"], source) from None
    return graph_from_dict(data, source=source)


def graph_from_dict(data: Any, source: str = "") -> Graph:
    """Build a Graph from already-parsed JSON data (used for clipboard and embedded graphs too)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise GraphFileError([f"expected a JSON object at the top, got {_json_kind(data)}"], source)
    if data.get("format") != FORMAT:
        found = data.get("format")
        raise GraphFileError(
            [
                f'not a studio graph: "format" must be "{FORMAT}", got {_short(found) if found is not None else "nothing"}'
            ],
            source,
        )
    version = data.get("version", None)
    if isinstance(version, bool) or not isinstance(version, int):
        raise GraphFileError([f'"version" must be a whole number, got {_short(version)}'], source)
    if version > FORMAT_VERSION:
        raise GraphFileError(
            [f"graph format version {version} is newer than this studio reads ({FORMAT_VERSION}); update the studio"],
            source,
        )
    if version < 1:
        raise GraphFileError([f'"version" must be at least 1, got {version}'], source)
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1

    problems.extend(_unwritable_values(data))
    graph = Graph()
    nodes = _list_field(data, "nodes", problems)
    if len(nodes) > MAX_NODES:
        raise GraphFileError([f"{len(nodes)} nodes is more than the {MAX_NODES} allowed"], source)
    for index, record in enumerate(nodes):
        node = _parse_node(record, index, problems)
        if node is not None:
            graph._append_loaded(node)
    for index, record in enumerate(_list_field(data, "links", problems)):
        link = _parse_link(record, index, problems)
        if link is not None:
            graph._append_loaded_link(link)
    for index, record in enumerate(_list_field(data, "groups", problems)):
        group = _parse_group(record, index, problems)
        if group is not None:
            graph.groups.append(group)
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        problems.append(f'"meta" must be an object, got {_json_kind(meta)}')
    else:
        graph.meta.update(meta)
    graph.extra = {k: v for k, v in data.items() if k not in _TOP_KEYS}
    if problems:
        raise GraphFileError(problems, source)
    return graph


def _parse_node(record: Any, index: int, problems: list[str]) -> Node | None:
    where = f"node #{index + 1}"
    if not isinstance(record, dict):
        problems.append(f"{where}: expected an object, got {_json_kind(record)}")
        return None
    node_id = record.get("id")
    if not isinstance(node_id, str) or not node_id.strip():
        problems.append(f'{where}: "id" must be a non-empty string, got {_short(node_id)}')
        return None
    if len(node_id) > MAX_ID_LENGTH:
        problems.append(f"{where}: id is longer than {MAX_ID_LENGTH} characters")
        return None
    where = f"node {node_id!r}"
    ok = True
    type_name = record.get("type")
    if not isinstance(type_name, str) or not type_name:
        problems.append(f'{where}: "type" must be a non-empty string, got {_short(type_name)}')
        ok = False
    type_version = record.get("type_version", 1)
    if isinstance(type_version, bool) or not isinstance(type_version, int) or not 1 <= type_version <= 1_000_000:
        problems.append(f'{where}: "type_version" must be a whole number from 1, got {_short(type_version)}')
        ok = False
    params = record.get("params", {})
    if not isinstance(params, dict):
        problems.append(f'{where}: "params" must be an object, got {_json_kind(params)}')
        ok = False
    position = record.get("position", [0, 0])
    if (
        not isinstance(position, list)
        or len(position) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in position)
    ):
        problems.append(f'{where}: "position" must be [x, y] numbers, got {_short(position)}')
        ok = False
    if not ok:
        return None
    return Node(
        id=node_id,
        type=type_name,
        params=dict(params),
        type_version=type_version,
        position=(float(position[0]), float(position[1])),
        extra={k: v for k, v in record.items() if k not in _NODE_KEYS},
    )


def _parse_link(record: Any, index: int, problems: list[str]) -> Link | None:
    where = f"link #{index + 1}"
    if not isinstance(record, dict):
        problems.append(f"{where}: expected an object, got {_json_kind(record)}")
        return None
    ends = []
    for key in ("from", "to"):
        end = record.get(key)
        if not (isinstance(end, list) and len(end) == 2 and all(isinstance(v, str) and v for v in end)):
            problems.append(f'{where}: "{key}" must be ["node id", "port"], got {_short(end)}')
            return None
        ends.append(end)
    (src, out), (dst, port) = ends
    return Link(src, out, dst, port, extra={k: v for k, v in record.items() if k not in _LINK_KEYS})


def _parse_group(record: Any, index: int, problems: list[str]) -> Group | None:
    where = f"group #{index + 1}"
    if not isinstance(record, dict):
        problems.append(f"{where}: expected an object, got {_json_kind(record)}")
        return None
    group_id = record.get("id", f"group{index + 1}")
    title = record.get("title", "")
    color = record.get("color", "#3a4a5a")
    bounds = record.get("bounds", [0, 0, 400, 300])
    if not isinstance(group_id, str) or not isinstance(title, str) or not isinstance(color, str):
        problems.append(f'{where}: "id", "title" and "color" must be strings')
        return None
    if not (
        isinstance(bounds, list)
        and len(bounds) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9 for v in bounds)
    ):
        problems.append(f'{where}: "bounds" must be [x, y, width, height] numbers, got {_short(bounds)}')
        return None
    return Group(
        id=group_id,
        title=title,
        color=color,
        bounds=tuple(float(v) for v in bounds),  # type: ignore[arg-type]
        extra={k: v for k, v in record.items() if k not in _GROUP_KEYS},
    )


# ---- saving ----------------------------------------------------------------------------
def graph_to_dict(graph: Graph) -> dict[str, Any]:
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "nodes": [
            {
                "id": n.id,
                "type": n.type,
                "type_version": n.type_version,
                "params": dict(n.params),
                "position": [n.position[0], n.position[1]],
                **n.extra,
            }
            for n in graph.nodes
        ],
        "links": [
            {"from": [lk.from_node, lk.from_port], "to": [lk.to_node, lk.to_port], **lk.extra} for lk in graph.links
        ],
        "groups": [
            {"id": g.id, "title": g.title, "color": g.color, "bounds": list(g.bounds), **g.extra} for g in graph.groups
        ],
        "meta": dict(graph.meta),
    }
    for key, value in graph.extra.items():
        data.setdefault(key, value)
    return data


def dumps_graph(graph: Graph, *, indent: int | None = 2) -> str:
    """The graph as JSON text. Raises :class:`GraphFileError` naming every value JSON cannot hold
    (NaN, infinities, lone surrogates, objects that are not data) instead of writing it."""
    data = graph_to_dict(graph)
    problems = _unwritable_values(data)
    if problems:
        raise GraphFileError(problems)
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)


def save_graph(graph: Graph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path`` atomically (temporary file, then rename)."""
    return atomic_write_bytes(path, (dumps_graph(graph) + "\n").encode("utf-8"))


# ---- values JSON cannot hold ------------------------------------------------------------
def _unwritable_values(data: dict[str, Any]) -> list[str]:
    """One line per record holding a value a graph file cannot carry, naming the record and where in it."""
    problems = []
    for key, value in data.items():
        records = value if key in ("nodes", "links", "groups") and isinstance(value, list) else None
        if records is None:
            problem = _first_unwritable({key: value})
            if problem:
                problems.append(problem)
            continue
        for index, record in enumerate(records):
            problem = _first_unwritable(record)
            if problem:
                problems.append(f"{_record_name(key, index, record)}: {problem}")
    return problems


def _record_name(key: str, index: int, record: Any) -> str:
    node_id = record.get("id") if isinstance(record, dict) else None
    if key == "nodes" and isinstance(node_id, str) and _text_problem(node_id) is None:
        return f"node {node_id!r}"
    return f"{key[:-1]} #{index + 1}"


def _first_unwritable(value: Any) -> str | None:
    """``"where: what"`` for the first value in ``value`` that JSON cannot hold, or None.

    Iterative, so data nested past Python's recursion limit (an embedded graph) is checked too.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        what = None
        if isinstance(item, str):
            what = _text_problem(item)
        elif isinstance(item, float):
            what = None if math.isfinite(item) else f"{item} is not a finite number; a graph file holds only those"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{path or 'value'}: key {_short(key)} is not text"
                if _text_problem(key):
                    return f"{path or 'value'}: key '{_escaped(key)}': {_text_problem(key)}"
                children.append((f"{path}.{_escaped(key)}" if path else _escaped(key), child))
            stack.extend(reversed(children))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(item)]))
        elif item is not None and not isinstance(item, (bool, int)):
            what = f"a value of type {type(item).__name__} is not data a graph file can hold"
        if what:
            return f"{path or 'value'}: {what}"
    return None


def _text_problem(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        return (
            f"text holds a lone surrogate \\u{ord(char):04x} at character {exc.start + 1}, which is not valid Unicode"
        )
    return None


def _escaped(text: str) -> str:
    """``text`` printable anywhere, on one line: control characters and lone surrogates as escapes."""
    return safe(text)


# ---- helpers ---------------------------------------------------------------------------
def _list_field(data: dict[str, Any], key: str, problems: list[str]) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        problems.append(f'"{key}" must be a list, got {_json_kind(value)}')
        return []
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


MAX_INT_DIGITS = 40  # parameters are 64-bit at most (seeds: 20 digits); more is not a graph's number


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"a whole number of {digits:,} digits ({text[:12]}…); graphs hold at most {MAX_INT_DIGITS}")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else repr(value)
    text = _escaped(text)  # a problem line must print even when the value is not valid Unicode
    return text if len(text) <= 40 else text[:37] + "..."
