"""Node type declarations: the one place a node type's ports, parameters and compute live.

Everything else (the editor's ports and widgets, validation, the file format, the CLI
catalogue) is derived from a :class:`NodeSpec`. This module imports neither Qt nor torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.graph import types as t

# Upper bounds that keep hostile files from smuggling absurd values into a run.
MAX_STRING = 100_000
SEED_MAX = 2**64 - 1
INT_LIMIT = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class InputSpec:
    """A typed input port. An optional input may stay unconnected; compute then gets None."""

    name: str
    type: str
    optional: bool = False
    doc: str = ""


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: str
    doc: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A typed parameter with its default, range or choices, and help text.

    ``file_types`` (PATH only) lists accepted suffixes for file pickers, e.g. (".safetensors",);
    ``multiline`` (STRING only) asks the inspector for a prompt box;
    ``model_kinds`` (PATH only) lists the kinds of model the parameter takes ("checkpoint",
    "vae", ...: studio.nodeapi.kinds), so pickers can offer the scanned models of those kinds.
    """

    name: str
    kind: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""
    multiline: bool = False
    file_types: tuple[str, ...] = ()
    directory: bool = False
    model_kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in t.PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.model_kinds and self.kind != t.PATH:
            raise ValueError(f"parameter {self.name!r}: model_kinds is for PATH parameters, not {self.kind}")
        problem = self.check(self.default)
        if problem:
            raise ValueError(f"parameter {self.name!r}: default {problem}")

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable for this parameter, or None if it is."""
        kind = self.kind
        if kind in (t.INT, t.SEED):
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, got {_show(value)}"
            low = 0 if kind == t.SEED and self.min is None else self.min
            high = SEED_MAX if kind == t.SEED and self.max is None else self.max
            low = -INT_LIMIT if low is None else low
            high = INT_LIMIT if high is None else high
            if not low <= value <= high:
                return f"must be between {_num(low)} and {_num(high)}, got {_show(value)}"
        elif kind == t.FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, got {_show(value)}"
            if not math.isfinite(value):
                return f"must be a finite number, got {_show(value)}"
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                return f"must be between {_num(self.min)} and {_num(self.max)}, got {_show(value)}"
        elif kind == t.BOOL:
            if not isinstance(value, bool):
                return f"must be true or false, got {_show(value)}"
        elif kind == t.CHOICE:
            if not isinstance(value, str) or value not in self.choices:
                return f"must be one of {', '.join(self.choices)}, got {_show(value)}"
        else:  # STRING, PATH
            if not isinstance(value, str):
                return f"must be text, got {_show(value)}"
            if len(value) > MAX_STRING:
                return f"is too long ({len(value)} characters, at most {MAX_STRING})"
            if not value.isascii() and _SURROGATE.search(value):
                return f"is not valid Unicode text (it holds a lone surrogate), got {_show(value)}"
        return None

    def parse_text(self, text: str) -> Any:
        """Parse a command-line value (``--set node.param=TEXT``) into this parameter's type.

        Raises ValueError with a short reason; range checks are left to :meth:`check`.
        """
        if self.kind in (t.INT, t.SEED):
            try:
                return int(text, 10)
            except ValueError:
                raise ValueError(f"must be a whole number, got {text!r}") from None
        if self.kind == t.FLOAT:
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"must be a number, got {text!r}") from None
        if self.kind == t.BOOL:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"must be true or false, got {text!r}")
        return text

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default}
        if self.min is not None:
            data["min"] = self.min
        if self.max is not None:
            data["max"] = self.max
        if self.choices:
            data["choices"] = list(self.choices)
        if self.file_types:
            data["file_types"] = list(self.file_types)
        if self.model_kinds:
            data["model_kinds"] = list(self.model_kinds)
        if self.doc:
            data["doc"] = self.doc
        return data


Compute = Callable[..., dict[str, Any]]
Migrate = Callable[[dict[str, Any], int], dict[str, Any]]


@dataclass(frozen=True)
class DiskCodec:
    """How a node's outputs survive the process, for nodes whose work is expensive (the sampler).

    ``dump(outputs)`` gives ``(tensors, meta)``: named tensors (kept as safetensors, never
    pickled) and JSON-able metadata; ``load(tensors, meta)`` rebuilds the outputs and raises
    ValueError on anything it does not recognise (the entry is then ignored and replaced).
    """

    dump: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]
    load: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class NodeSpec:
    """One node type: its typed ports and parameters and the function that computes it.

    ``compute(ctx, **values)`` receives every input (None for an unconnected optional one)
    and every parameter by name, and returns a dict of outputs by name. An ``output`` node
    (SaveVideo, PreviewVideo) is what a run is planned backwards from; its returned dict is
    what the run report lists under ``outputs``.
    ``migrate(params, from_version)`` upgrades parameters saved by an older ``version``.
    ``persist`` keeps the outputs in the engine's on-disk cache too (see :class:`DiskCodec`).
    ``estimate(ctx, **values)`` plans the node's memory without running it (the contract is in
    ``studio.nodeapi.memory``); None: the node needs no memory worth counting.
    """

    type: str
    compute: Compute
    category: str = "Other"
    description: str = ""
    inputs: tuple[InputSpec, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = ()
    version: int = 1
    output: bool = False
    migrate: Migrate | None = None
    persist: DiskCodec | None = None
    estimate: Callable[..., Any] | None = None
    _index: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _defaults: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [p.name for p in self.inputs] + [p.name for p in self.params]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"node type {self.type}: duplicate port/parameter names {sorted(dupes)}")
        self._index.update({p.name: p for p in self.params})
        self._index.update({p.name: p for p in self.inputs})
        self._index.update({"out:" + p.name: p for p in self.outputs})
        self._defaults.update({p.name: p.default for p in self.params})
        self._index["path:"] = tuple(p.name for p in self.params if p.kind == t.PATH)

    @property
    def path_params(self) -> tuple[str, ...]:
        return self._index["path:"]

    def input(self, name: str) -> InputSpec | None:
        found = self._index.get(name)
        return found if isinstance(found, InputSpec) else None

    def param(self, name: str) -> ParamSpec | None:
        found = self._index.get(name)
        return found if isinstance(found, ParamSpec) else None

    def output_port(self, name: str) -> OutputSpec | None:
        return self._index.get("out:" + name)

    def input_type(self, name: str) -> str | None:
        """The wire type accepted by input ``name``, including promoted parameters."""
        port = self.input(name)
        if port is not None:
            return port.type
        param = self.param(name)
        return t.wire_type_for_param(param.kind) if param is not None else None

    def default_params(self) -> dict[str, Any]:
        return dict(self._defaults)

    def upgrade_params(self, params: dict[str, Any], from_version: int) -> dict[str, Any]:
        if from_version < self.version and self.migrate is not None:
            return self.migrate(dict(params), from_version)
        return params

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "version": self.version,
            "category": self.category,
            "description": self.description,
            "output_node": self.output,
            "inputs": [
                {"name": p.name, "type": p.type, "optional": p.optional, **({"doc": p.doc} if p.doc else {})}
                for p in self.inputs
            ],
            "params": [p.to_json() for p in self.params],
            "outputs": [{"name": p.name, "type": p.type} for p in self.outputs],
        }


def node_type(
    type: str,
    *,
    category: str,
    description: str = "",
    inputs: tuple[InputSpec, ...] | list[InputSpec] = (),
    params: tuple[ParamSpec, ...] | list[ParamSpec] = (),
    outputs: tuple[OutputSpec, ...] | list[OutputSpec] = (),
    version: int = 1,
    output: bool = False,
    migrate: Migrate | None = None,
    persist: DiskCodec | None = None,
    estimate: Callable[..., Any] | None = None,
) -> Callable[[Compute], NodeSpec]:
    """Declare a node type by decorating its compute function."""

    def wrap(compute: Compute) -> NodeSpec:
        return NodeSpec(
            type=type,
            compute=compute,
            category=category,
            description=description or (compute.__doc__ or "").strip().split("\n")[0],
            inputs=tuple(inputs),
            params=tuple(params),
            outputs=tuple(outputs),
            version=version,
            output=output,
            migrate=migrate,
            persist=persist,
            estimate=estimate,
        )

    return wrap


def _num(value: float | None) -> str:
    if value is None:
        return "∞"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
