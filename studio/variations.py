"""A batch's jobs: every combination of ``--vary NODE.PARAM=V1,V2,…`` applied to one graph.

Values come inline (split on commas), from a file (``@prompts.txt``: one value a line, blank lines
skipped, relative to the current folder) or as an inclusive integer range (``1..8``) for whole-number
parameters. Every value of every variation is parsed, range-checked and the graph of every job
validated before anything runs; :class:`VariationError` lists each problem on a line of its own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.graph import dumps_graph, loads_graph
from studio.graph import types as t
from studio.graph.model import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.validate import errors, validate

MAX_JOBS = 10_000  # a typo like 1..100000 should be refused, not queued
MAX_VALUES_FILE_BYTES = 1 << 20
_RANGE = re.compile(r"\s*(-?\d{1,19})\s*\.\.\s*(-?\d{1,19})\s*")


def find_param(graph: Graph, registry: NodeRegistry, node_id: str, param_name: str) -> tuple[Any, Any]:
    """The node and the parameter spec a ``NODE.PARAM`` names (``--set`` and ``--vary``); a
    LookupError saying what is missing otherwise."""
    if node_id not in graph:
        raise LookupError(f"no node with id {node_id!r}")
    node = graph.node(node_id)
    spec = registry.get(node.type)
    param = spec.param(param_name) if spec else None
    if param is None:
        known = ", ".join(p.name for p in spec.params) if spec else "unknown node type"
        raise LookupError(f"{node_id} ({node.type}) has no parameter {param_name!r} ({known})")
    return node, param


class VariationError(ValueError):
    """Problems with the variations or the jobs' graphs, one line each."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Variation:
    """One ``--vary``: a parameter of one node and the values it takes in turn."""

    node_id: str
    param: str
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return f"{self.node_id}.{self.param}"


@dataclass
class Job:
    """One render of a batch: the graph with one value of each variation set (``index`` from 1)."""

    index: int
    values: dict[str, Any]  # "node.param" -> value
    graph: Graph

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={_short(value)}" for name, value in self.values.items())

    def graph_text(self) -> str:
        """The job's graph as file text: what travels to a cluster worker."""
        return dumps_graph(self.graph, indent=None)


def parse_variations(graph: Graph, registry: NodeRegistry, given: list[str]) -> list[Variation]:
    """Parse every ``--vary`` against ``graph``; raises :class:`VariationError` listing all problems,
    a bad value with the jobs it would have been part of."""
    problems: list[str] = []
    variations: list[Variation] = []
    bad_values: list[tuple[int, int, str]] = []  # (variation, value position, problem)
    sizes: list[int] = []
    for item in given:
        target, sep, text = item.partition("=")
        node_id, dot, param_name = target.strip().rpartition(".")
        shown = f"--vary {_short(item, quote=False)}"
        if not sep or not dot or not node_id or not param_name:
            problems.append(f"{shown}: expected NODE.PARAM=V1,V2,… (or =@FILE, or =A..B)")
            continue
        if any(v.name == f"{node_id}.{param_name}" for v in variations):
            problems.append(f"{shown}: {node_id}.{param_name} is varied twice; list all its values in one --vary")
            continue
        try:
            node, param = find_param(graph, registry, node_id, param_name)
        except LookupError as exc:
            problems.append(f"{shown}: {exc}")
            continue
        try:
            texts = _value_texts(text, param.kind in (t.INT, t.SEED))
        except ValueError as exc:
            problems.append(f"{shown}: {exc}")
            continue
        if not texts:
            problems.append(f"{shown}: no values")
            continue
        values = []
        for position, text_value in enumerate(texts):
            try:
                value = param.parse_text(text_value)
                reason = param.check(value)
            except ValueError as exc:
                reason = str(exc)
            if reason:
                bad_values.append((len(variations), position, f"{node_id} ({node.type}): {param_name} {reason}"))
            values.append(value if not reason else None)
        variations.append(Variation(node_id, param_name, tuple(values)))
        sizes.append(len(values))
    for which, position, problem in bad_values:
        problems.append(f"{_jobs_with(sizes, which, position)}: {problem}")
    if problems:
        raise VariationError(problems)
    return variations


def _jobs_with(sizes: list[int], which: int, position: int) -> str:
    """``job 3`` or ``jobs 3, 7, 11, …``: the jobs in which variation ``which`` takes its value at ``position``."""
    count = 1
    for size in sizes:
        count *= size
    if count > MAX_JOBS:
        return "the jobs"
    after = 1
    for size in sizes[which + 1 :]:
        after *= size  # jobs list combinations with the last variation varying fastest
    numbers = [n + 1 for n in range(count) if (n // after) % sizes[which] == position]
    shown = ", ".join(str(n) for n in numbers[:4]) + (", …" if len(numbers) > 4 else "")
    return f"job {shown}" if len(numbers) == 1 else f"jobs {shown}"


def build_jobs(graph: Graph, registry: NodeRegistry, variations: list[Variation]) -> list[Job]:
    """Every combination of the variations (the last one varying fastest), each job's graph
    validated; raises :class:`VariationError` naming the job, node and parameter of each problem."""
    count = 1
    for variation in variations:
        count *= len(variation.values)
    if count > MAX_JOBS:
        raise VariationError([f"{count} jobs is more than the {MAX_JOBS} a batch may hold"])
    text = dumps_graph(graph, indent=None)
    jobs: list[Job] = []
    problems: list[str] = []
    seen: dict[str, int] = {}  # a problem every job shares is listed once, for the first job
    for index, combination in enumerate(itertools.product(*(v.values for v in variations)), start=1):
        job_graph = loads_graph(text)
        values = {}
        for variation, value in zip(variations, combination, strict=True):
            job_graph.set_param(variation.node_id, variation.param, value)
            values[variation.name] = value
        job = Job(index, values, job_graph)
        for problem in errors(validate(job_graph, registry)):
            line = str(problem)
            if line in seen:
                continue
            seen[line] = index
            problems.append(f"job {index} ({job.label}): {line}")
        jobs.append(job)
    if problems:
        raise VariationError(problems)
    return jobs


def _value_texts(text: str, whole_numbers: bool) -> list[str]:
    if text.startswith("@"):
        return _file_values(text[1:])
    texts = []
    for part in text.split(","):
        match = _RANGE.fullmatch(part) if whole_numbers else None
        if match is None:
            texts.append(part.strip() if whole_numbers else part)
            continue
        first, last = int(match[1]), int(match[2])
        if last < first:
            raise ValueError(f"the range {part.strip()} runs backwards; write {last}..{first}")
        if last - first >= MAX_JOBS:
            raise ValueError(f"the range {part.strip()} holds more than the {MAX_JOBS} values a batch may hold")
        texts.extend(str(n) for n in range(first, last + 1))
    return texts


def _file_values(name: str) -> list[str]:
    """One value a line from the file ``name`` (relative to the current folder), blank lines skipped."""
    path = Path(name).expanduser()
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValueError(f"@{name}: is not a file")
        if size > MAX_VALUES_FILE_BYTES:
            raise ValueError(f"@{name}: the file is {size} bytes, larger than the {MAX_VALUES_FILE_BYTES} allowed")
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"@{name}: no such file") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"@{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValueError(f"@{name}: cannot read the file ({exc.strerror or exc})") from None
    return [line for line in text.splitlines() if line.strip()]


def _short(value: Any, limit: int = 60, quote: bool = True) -> str:
    text = value if isinstance(value, str) else repr(value)
    if quote and isinstance(value, str) and (not text or text != text.strip() or "," in text or "=" in text):
        text = repr(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
