"""The memory a run will need, planned before anything loads (``studio run --estimate``, the window's label).

Each planned node with an ``estimate`` hook (``studio.nodeapi.memory``) says what it holds for the
rest of the run (weights, frames) and what it needs while it runs (activations). Nodes run one after
another, so the peak is, over the plan, what earlier nodes hold plus what the node holds and needs.
When the peak is over the device's budget, the tweaks the hooks offer (offload, tiling, a smaller
size or fewer frames) are tried on the plan, alone and then together, and the ones that fit are the
advice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from studio.graph.model import Graph
from studio.graph.registry import NodeRegistry
from studio.nodeapi import MissingFiles, NodeError
from studio.nodeapi.memory import EstimateContext, MemoryUse, Tweak

log = logging.getLogger("studio.engine")

GiB = 1024**3
VRAM_USABLE = 0.95  # of a GPU's memory: the CUDA context and the allocator's slack take the rest
Overrides = dict[str, dict[str, Any]]  # node id → parameter → value, a tweak applied to the plan


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes a run may use: ``ram`` of the machine, ``vram`` of the GPU (None: no GPU memory of its own)."""

    ram: int | None
    vram: int | None = None


@dataclass
class NodeMemory:
    node_id: str
    node_type: str
    use: MemoryUse | None  # None: the node has no hook, or its hook could not tell (``error``)
    error: str | None = None
    missing: tuple[str, ...] = ()  # the files its hook could not find (``MissingFiles``), as the graph names them


@dataclass(frozen=True)
class Advice:
    """Settings that bring the peak down: ``changes`` as (node id, parameter, value)."""

    changes: tuple[tuple[str, str, Any], ...]
    text: str
    peak_ram: int
    peak_vram: int
    fits: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "fits": self.fits,
            "peak_ram": self.peak_ram,
            "peak_vram": self.peak_vram,
            "changes": [{"node": n, "param": p, "value": v} for n, p, v in self.changes],
        }


@dataclass
class MemoryEstimate:
    device: str
    nodes: dict[str, NodeMemory]
    peak_ram: int
    peak_vram: int
    budget: MemoryBudget
    advice: list[Advice] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        ram, vram = self.budget.ram, self.budget.vram
        return (ram is None or self.peak_ram <= ram) and (vram is None or self.peak_vram <= vram)

    @property
    def unknown(self) -> list[str]:
        """Nodes whose hooks could not tell (a missing file, a value driven by a wire)."""
        return [n.node_id for n in self.nodes.values() if n.error]

    @property
    def missing(self) -> list[tuple[str, str, str]]:
        """The files the plan needs that are not there, as (node id, node type, path): nothing
        they hold is counted, so the peak says nothing until they are found."""
        return [(n.node_id, n.node_type, path) for n in self.nodes.values() for path in n.missing]

    def summary(self) -> str:
        """One line: the peak against the budget and the first advice when it does not fit; or
        what could not be measured (missing files, nodes whose hooks could not tell)."""
        missing = len(self.missing)
        if missing:
            return f"{missing} model file{'s' if missing != 1 else ''} missing · memory not estimated"
        text = self._peak_summary()
        unknown = len(self.unknown)
        if unknown and self.fits:  # the peak is at least this: never "fits" for what was not measured
            return text.removesuffix(" · fits") + f" · {unknown} node{'s' if unknown != 1 else ''} not estimated"
        return text

    def _peak_summary(self) -> str:
        parts = [f"{human(self.peak_vram)} of {human(self.budget.vram)} VRAM"] if self.budget.vram is not None else []
        ram = f"{human(self.peak_ram)} RAM" + (f" of {human(self.budget.ram)}" if self.budget.ram is not None else "")
        parts.append(ram)
        text = f"Memory ({self.device}): " + ", ".join(parts)
        if self.fits:
            return text + " · fits"
        text += " · will not fit"
        fitting = [a for a in self.advice if a.fits]
        if fitting:
            return text + f"; try {fitting[0].text}"
        return text + (f"; even with {self.advice[0].text}" if self.advice else "")

    def lines(self) -> list[str]:
        """A table per node, then the summary and every advice, for ``studio run --estimate``."""
        out = [f"{'node':<20} {'type':<14} {'held RAM':>10} {'work RAM':>10} {'held VRAM':>10} {'work VRAM':>10}"]
        for memory in self.nodes.values():
            use = memory.use
            if use is None:
                why = memory.error or "nothing to count"
                out.append(f"{memory.node_id:<20} {memory.node_type:<14} {why}")
                continue
            figures = (use.held_ram, use.work_ram, use.held_vram, use.work_vram)
            row = f"{memory.node_id:<20} {memory.node_type:<14} " + " ".join(f"{human(b):>10}" for b in figures)
            out.append(row + (f"  {use.note}" if use.note else ""))
        out.append(self.summary())
        for advice in self.advice:
            state = "fits" if advice.fits else "still over"
            out.append(f"  {advice.text}: {human(advice.peak_ram)} RAM, {human(advice.peak_vram)} VRAM ({state})")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "event": "estimate",
            "device": self.device,
            "fits": self.fits,
            "peak_ram": self.peak_ram,
            "peak_vram": self.peak_vram,
            "budget_ram": self.budget.ram,
            "budget_vram": self.budget.vram,
            "nodes": {
                n.node_id: {
                    "type": n.node_type,
                    **(vars(n.use) if n.use else {}),
                    **({"error": n.error} if n.error else {}),
                    **({"missing": list(n.missing)} if n.missing else {}),
                }
                for n in self.nodes.values()
            },
            "advice": [a.to_json() for a in self.advice],
        }


def human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def available_ram() -> int:
    """Bytes of RAM a new allocation can get now (Linux's MemAvailable; elsewhere 80% of physical)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 0.8)
    except (AttributeError, ValueError, OSError):
        return 8 * GiB


def device_budget(device: str, cached_ram: int = 0) -> MemoryBudget:
    """The budget on ``device``: the RAM available now plus what the engine's cache holds (a run may
    reuse or evict it), and on CUDA the GPU's memory less the context's share."""
    ram = available_ram() + cached_ram
    if device != "cuda":
        return MemoryBudget(ram)
    from studio.engine.device import device_memory

    total = device_memory(device)
    return MemoryBudget(ram, int(total * VRAM_USABLE) if total else None)


@dataclass
class EstimatePlan:
    """What the estimate walks: the planned nodes in order, their parameters and incoming links."""

    graph: Graph
    registry: NodeRegistry
    order: list[str]
    params: dict[str, dict[str, Any]]
    links_into: dict[str, list]
    context: Callable[[str, str], EstimateContext]


def estimate_plan(
    plan: EstimatePlan, device: str, budget: MemoryBudget, walked: tuple[dict, list] | None = None
) -> MemoryEstimate:
    """The estimate of ``plan`` on ``device``, with advice when it is over ``budget`` (``walked``:
    the plan's nodes and tweaks, when already walked)."""
    nodes, tweaks = walked or _walk(plan, {})
    peak_ram, peak_vram = _peaks(plan.order, nodes)
    estimate = MemoryEstimate(device, nodes, peak_ram, peak_vram, budget)
    if not estimate.fits:
        estimate.advice = _advise(plan, tweaks, budget)
    return estimate


def _walk(plan: EstimatePlan, overrides: Overrides) -> tuple[dict[str, NodeMemory], list[tuple[str, Tweak]]]:
    planned: dict[str, dict[str, Any]] = {}
    nodes: dict[str, NodeMemory] = {}
    tweaks: list[tuple[str, Tweak]] = []
    for node_id in plan.order:
        node = plan.graph.node(node_id)
        spec = plan.registry[node.type]
        if spec.estimate is None:
            nodes[node_id] = NodeMemory(node_id, node.type, None)
            planned[node_id] = _passed_through(spec, plan.links_into.get(node_id, []), planned)
            continue
        values: dict[str, Any] = {p.name: None for p in spec.inputs}
        for link in plan.links_into.get(node_id, []):
            values[link.to_port] = planned.get(link.from_node, {}).get(link.from_port)
        values.update(plan.params[node_id])
        values.update(overrides.get(node_id, {}))
        try:
            result = spec.estimate(plan.context(node_id, node.type), **values)
        except NodeError as exc:
            missing = exc.paths if isinstance(exc, MissingFiles) else ()
            nodes[node_id] = NodeMemory(node_id, node.type, None, str(exc).strip().splitlines()[0], missing)
            continue
        except Exception as exc:  # an estimate is advice: a hook's bug must not stop a run or the window
            log.warning("memory estimate of %s (%s) failed", node_id, node.type, exc_info=exc)
            nodes[node_id] = NodeMemory(node_id, node.type, None, f"could not estimate ({type(exc).__name__})")
            continue
        planned[node_id] = result.outputs
        nodes[node_id] = NodeMemory(node_id, node.type, result.use)
        tweaks.extend((node_id, tweak) for tweak in result.tweaks)
    return nodes, tweaks


def _passed_through(spec: Any, links: list, planned: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A node without a hook hands on what arrives on an input of an output's wire type (LoadLoRA's
    model, a frame filter's frames), so the nodes after it are still estimated."""
    arriving: dict[str, Any] = {}
    for link in links:
        value = planned.get(link.from_node, {}).get(link.from_port)
        if value is not None:
            arriving.setdefault(spec.input_type(link.to_port), value)
    return {out.name: arriving[out.type] for out in spec.outputs if out.type in arriving}


def _peaks(order: list[str], nodes: dict[str, NodeMemory]) -> tuple[int, int]:
    """Nodes run one at a time: each needs what earlier nodes hold, plus its own held and work bytes."""
    held_ram = held_vram = peak_ram = peak_vram = 0
    for node_id in order:
        use = nodes[node_id].use
        if use is None:
            continue
        peak_ram = max(peak_ram, held_ram + use.held_ram + use.work_ram)
        peak_vram = max(peak_vram, held_vram + use.held_vram + use.work_vram)
        held_ram += use.held_ram
        held_vram += use.held_vram
    return peak_ram, peak_vram


def _try(plan: EstimatePlan, overrides: Overrides, budget: MemoryBudget) -> tuple[int, int, bool]:
    nodes, _ = _walk(plan, overrides)
    ram, vram = _peaks(plan.order, nodes)
    fits = (budget.ram is None or ram <= budget.ram) and (budget.vram is None or vram <= budget.vram)
    return ram, vram, fits


def _advise(plan: EstimatePlan, tweaks: list[tuple[str, Tweak]], budget: MemoryBudget) -> list[Advice]:
    """Each tweak alone (the mildest that fits per node and parameter), else all of them together,
    mildest first, stopping as soon as the plan fits."""
    tweaks = sorted(tweaks, key=lambda item: item[1].rank)
    advice: list[Advice] = []
    settled: set[tuple[str, frozenset[str]]] = set()
    for node_id, tweak in tweaks:
        what = (node_id, frozenset(tweak.changes))
        if what in settled:
            continue
        ram, vram, fits = _try(plan, {node_id: tweak.changes}, budget)
        if fits:
            settled.add(what)
            advice.append(_advice({node_id: tweak.changes}, [f"{node_id}: {tweak.text}"], ram, vram, True))
    if advice or not tweaks:
        return advice
    combined: Overrides = {}
    texts: dict[tuple[str, frozenset[str]], str] = {}
    result = (0, 0, False)
    for node_id, tweak in tweaks:
        combined.setdefault(node_id, {}).update(tweak.changes)
        texts[(node_id, frozenset(tweak.changes))] = f"{node_id}: {tweak.text}"
        result = _try(plan, combined, budget)
        if result[2]:
            break
    return [_advice(combined, list(texts.values()), *result)]


def _advice(overrides: Overrides, texts: list[str], ram: int, vram: int, fits: bool) -> Advice:
    changes = tuple((n, p, v) for n, params in overrides.items() for p, v in params.items())
    return Advice(changes, ", ".join(texts), ram, vram, fits)


def estimate_graph(
    engine: Any,
    graph: Graph,
    order: list[str],
    budget: MemoryBudget | None,
    finding_device: Callable[[str], None] | None = None,
) -> MemoryEstimate:
    """The estimate of the planned nodes ``order`` of ``graph`` on ``engine``'s device and settings.
    The device is resolved only when a hook asks for it; ``finding_device(node_id)`` hears when that
    is about to happen for the first time (it may import torch)."""
    from studio.bundled import find_bundled
    from studio.engine.cache import OUTPUTS, RAM
    from studio.graph.validate import node_params

    registry = engine.registry
    families = engine.families
    links_into: dict[str, list] = {}
    for link in graph.links:
        links_into.setdefault(link.to_node, []).append(link)
    params: dict[str, dict[str, Any]] = {}
    for node_id in order:
        node = graph.node(node_id)
        values = node_params(node, registry[node.type])
        for link in links_into.get(node_id, []):
            values.pop(link.to_port, None)  # a promoted parameter is driven by its wire: unknown here
        params[node_id] = values

    def context(node_id: str, node_type: str) -> EstimateContext:
        def device() -> str:
            if engine._device is None and finding_device is not None:
                finding_device(node_id)
            return engine.device

        return EstimateContext(
            node_id, node_type, device, lambda: engine.dtype, engine.settings, families, find_bundled
        )

    plan = EstimatePlan(graph, registry, order, params, links_into, context)
    nodes, tweaks = _walk(plan, {})  # first, to learn whether any hook needed the device
    device = engine._device or engine._device_preference
    if budget is None:
        cached = engine.cache.place_nbytes(RAM) + engine.cache.place_nbytes(OUTPUTS)
        budget = device_budget(device, cached) if engine._device else MemoryBudget(available_ram() + cached)
    return estimate_plan(plan, device, budget, (nodes, tweaks))


def warn_if_over(engine: Any, graph: Graph, order: list[str], emit: Callable[[Any], None]) -> None:
    """Before a run: a ``memory_warning`` event when the plan will not fit, with the settings that
    would; a ``status`` event first when finding the device imports torch. Never raises: the
    estimate is advice, not a reason for a run to fail."""
    import sys

    from studio.engine.events import MemoryWarning, Status

    def finding_device(node_id: str) -> None:
        if engine._device_preference != "cpu" and "torch" not in sys.modules:
            emit(Status(node_id, "Importing torch to check the device's memory (first run only)…"))

    try:
        estimate = estimate_graph(engine, graph, order, None, finding_device)
    except Exception as exc:  # advice only: never the reason a run fails
        log.warning("memory estimate failed", exc_info=exc)
        return
    if not estimate.fits:
        emit(MemoryWarning(estimate.summary(), tuple(a.text for a in estimate.advice if a.fits)))
