"""The engine: validate, plan, run each needed node once, reuse cached outputs (DESIGN.md §4)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.bundled import find_bundled
from studio.engine.cache import MODELS, VRAM, VRAM_SHARE, NodeCache
from studio.engine.context import CancelToken, RunContext
from studio.engine.disk_cache import DiskCache
from studio.engine.events import (
    Done,
    Event,
    NodeCached,
    NodeFailed,
    NodeFinished,
    NodeStarted,
    Preview,
    Progress,
    Status,
    json_value,
)
from studio.engine.gc_imports import quiet_imports
from studio.engine.plan import cache_key, plan
from studio.engine.threads import RunThreads
from studio.graph.fileformat import graph_to_dict
from studio.graph.model import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.validate import GraphInvalid, Problem, errors, node_params, validate
from studio.graph.walk import Dependents
from studio.nodeapi import Cancelled, NodeError, RunSettings
from studio.nodeapi.families import FamilyRegistry

log = logging.getLogger("studio.engine")

EventHandler = Callable[[Event], None]


@dataclass
class NodeReport:
    status: str  # "ran" | "cached" | "failed" | "skipped"
    seconds: float = 0.0
    error: str | None = None


@dataclass
class RunReport:
    nodes: dict[str, NodeReport] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.status in ("ran", "cached") for r in self.nodes.values())

    @property
    def failed(self) -> dict[str, NodeReport]:
        return {k: r for k, r in self.nodes.items() if r.status == "failed"}

    def files(self) -> list[Path]:
        """Files written by output nodes (videos, images), in node order."""
        found: list[Path] = []
        for values in self.outputs.values():
            for value in values.values():
                path = getattr(value, "path", value)
                if isinstance(path, Path):
                    found.append(path)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "cancelled": self.cancelled,
            "seconds": round(self.seconds, 4),
            "files": [str(p) for p in self.files()],
            "outputs": json_value(self.outputs),
            "nodes": {
                k: {"status": r.status, "seconds": round(r.seconds, 4), **({"error": r.error} if r.error else {})}
                for k, r in self.nodes.items()
            },
        }


class Engine:
    """Runs graphs. One run at a time per engine; the cache lives across runs.

    ``device`` is ``auto|cpu|cuda|mps``; it is resolved (importing torch) on the first run.
    Without a ``registry`` (or ``families``) the engine uses what is installed under the
    ``studio.nodes`` (``studio.families``) entry points, the built-in library included.
    ``cpu_threads`` fixes torch's thread count on the CPU; 0 or None: ``STUDIO_CPU_THREADS``,
    else chosen per run for the cores free (:mod:`studio.engine.threads`).
    """

    def __init__(
        self,
        device: str = "auto",
        *,
        registry: NodeRegistry | None = None,
        families: FamilyRegistry | None = None,
        settings: RunSettings | None = None,
        disk_cache: DiskCache | None = None,
        cache_bytes: int | None = None,
        model_cache_bytes: int | None = None,
        dtype: str | None = None,
        cpu_threads: int | None = None,
    ) -> None:
        self.registry = registry if registry is not None else NodeRegistry.installed()
        self._families = families
        self.disk_cache = disk_cache  # expensive outputs (the sampler's latent) kept between processes
        self.settings = settings if settings is not None else RunSettings()
        self.cache = NodeCache(cache_bytes, model_cache_bytes)  # None: a share of the machine's memory
        self._device_preference = device
        self._device: str | None = None
        self._dtype = dtype
        self._cpu_threads = cpu_threads
        self.check_memory = True  # estimate before each run; warn when it will not fit
        self._run_lock = threading.Lock()
        self._cancel: CancelToken | None = None

    @property
    def families(self) -> FamilyRegistry:
        """The model families nodes see; read from the entry points on first use when not given."""
        if self._families is None:
            self._families = FamilyRegistry.installed()
        return self._families

    @property
    def device(self) -> str:
        if self._device is None:
            from studio.engine.device import device_memory, resolve_device

            self._device = resolve_device(self._device_preference)
            memory = device_memory(self._device)
            if memory is not None:  # models on the GPU get a share of its memory; the rest is for activations
                self.cache.budgets[VRAM] = int(memory * VRAM_SHARE)
        return self._device

    @property
    def dtype(self) -> str:
        if self._dtype is None:
            from studio.engine.device import default_dtype

            self._dtype = default_dtype(self.device)
        return self._dtype

    def validate(self, graph: Graph) -> list[Problem]:
        return validate(graph, self.registry)

    def unload_models(self) -> list[str]:
        """Drop every loaded model from the cache and give their memory back ("Unload models");
        returns the cache keys dropped. A run in progress keeps the models it holds."""
        dropped = self.cache.drop(MODELS)
        if dropped and self._device is not None:
            from studio.engine.device import release_device_memory

            release_device_memory(self._device)
        return dropped

    def cache_sizes(self) -> dict[str, int]:
        """Bytes kept between runs: ``outputs`` and ``models`` in memory, ``disk`` in the on-disk cache."""
        return {
            "outputs": self.cache.pool_nbytes("outputs"),
            "models": self.cache.pool_nbytes(MODELS),
            "disk": self.disk_cache.nbytes if self.disk_cache is not None else 0,
        }

    def clear_outputs(self) -> None:
        """Forget every node output, in memory and on disk ("Clear cache"); loaded models stay."""
        self.cache.drop("outputs")
        if self.disk_cache is not None:
            self.disk_cache.clear()

    def cancel(self) -> None:
        """Cancel the run in progress (from any thread); it stops within one step."""
        token = self._cancel
        if token is not None:
            token.cancel()

    def run(
        self,
        graph: Graph,
        on_event: EventHandler | None = None,
        *,
        cancel: CancelToken | None = None,
        targets: list[str] | None = None,
        output_dir: str | Path | None = None,
    ) -> RunReport:
        """Run ``graph`` and block until done. Raises :class:`GraphInvalid` before running anything
        if the graph has errors; node failures are reported, not raised."""
        problems = errors(validate(graph, self.registry))
        if targets is not None:
            problems += [Problem(f"no node with id {t!r} to run", t) for t in targets if t not in graph]
        if problems:
            raise GraphInvalid(problems)
        order = plan(graph, self.registry, targets)
        if not order:
            raise GraphInvalid([Problem("nothing to run: the graph has no output node (SaveVideo or PreviewVideo)")])
        with self._run_lock:
            token = cancel or CancelToken()
            self._cancel = token
            try:
                self._warn_memory(graph, order, on_event or (lambda e: None))
                return self._run(graph, order, on_event or (lambda e: None), token, output_dir)
            finally:
                self._cancel = None

    def estimate(self, graph: Graph, *, budget: Any = None, targets: list[str] | None = None) -> Any:
        """The memory a run of ``graph`` would need on this engine's device (a
        :class:`~studio.engine.estimate.MemoryEstimate`), from file headers and configs only:
        nothing loads. ``budget`` (a ``MemoryBudget``) replaces the device's. Raises
        :class:`GraphInvalid` for a graph with errors."""
        from studio.engine.estimate import estimate_graph

        problems = errors(validate(graph, self.registry))
        if problems:
            raise GraphInvalid(problems)
        return estimate_graph(self, graph, plan(graph, self.registry, targets), budget)

    def _warn_memory(self, graph: Graph, order: list[str], emit: EventHandler) -> None:
        """Say so before anything loads when the estimate says the run will not fit."""
        if self.check_memory and any(self.registry[graph.node(n).type].estimate for n in order):
            from studio.engine.estimate import warn_if_over

            warn_if_over(self, graph, order, emit)

    def _run(
        self,
        graph: Graph,
        order: list[str],
        emit: EventHandler,
        token: CancelToken,
        output_dir: str | Path | None,
    ) -> RunReport:
        started = time.perf_counter()
        settings = self.settings
        if output_dir is not None:
            settings = RunSettings(**{**settings.__dict__, "output_dir": Path(output_dir)})
        links_into: dict[str, list] = {}
        for link in graph.links:
            links_into.setdefault(link.to_node, []).append(link)
        keys, params = self._keys(graph, order, links_into, salt=str(settings.output_dir.resolve()))
        run_keys = set(keys.values())
        reused, needed = self._reuse(graph, order, keys, links_into, run_keys)
        document = _LazyDocument(graph)
        report = RunReport()
        results: dict[str, dict[str, Any]] = {}
        dependents = Dependents(order, ((lk.from_node, lk.to_node) for lk in graph.links))  # built on a failure
        # The CPU thread count, set once per run (issue 11); resolving the device is left to the nodes.
        threads = RunThreads(lambda: self.device, self._cpu_threads, known=self._device or self._device_preference)

        for node_id in order:
            node = graph.node(node_id)
            spec = self.registry[node.type]
            if token.cancelled:
                report.cancelled = True
                report.nodes[node_id] = NodeReport("skipped", error="cancelled")
                continue
            if node_id in reused or node_id not in needed:
                # Reused from a cache, or not needed because what it feeds was reused: nothing re-runs.
                if node_id in reused:
                    results[node_id] = reused[node_id]
                    if spec.output:
                        report.outputs[node_id] = reused[node_id]
                report.nodes[node_id] = NodeReport("cached")
                emit(NodeCached(node_id, node.type))
                continue
            upstream = links_into.get(node_id, [])
            blocked = [lk.from_node for lk in upstream if lk.from_node not in results]
            if blocked:
                report.nodes[node_id] = NodeReport("skipped", error=f"skipped: {blocked[0]} did not finish")
                continue
            values: dict[str, Any] = {p.name: None for p in spec.inputs}
            values.update({lk.to_port: results[lk.from_node][lk.from_port] for lk in upstream})
            values.update(params[node_id])
            emit(NodeStarted(node_id, node.type))
            threads.node_starting()
            ctx = RunContext(
                node_id=node_id,
                node_type=node.type,
                device=threads.device,
                dtype=lambda: self.dtype,
                settings=settings,
                cancel=token,
                emit_progress=lambda done, total, _id=node_id: emit(Progress(_id, int(done), int(total))),
                emit_preview=lambda image, step, total, _id=node_id: emit(Preview(_id, image, step, total)),
                emit_status=lambda text, _id=node_id: emit(Status(_id, str(text))),
                graph_document=document.get(),
                families=lambda: self.families,
            )
            t0 = time.perf_counter()
            try:
                _check_wired_params(spec, upstream, values)
                with quiet_imports():  # a cold run's imports without the GIL-holding full collections
                    outputs = spec.compute(ctx, **values)
                missing = [p.name for p in spec.outputs if not isinstance(outputs, dict) or p.name not in outputs]
                if missing:
                    raise NodeError(f"produced no {', '.join(repr(m) for m in missing)} output")
            except Cancelled:
                report.cancelled = True
                report.nodes[node_id] = NodeReport("skipped", time.perf_counter() - t0, "cancelled")
                continue
            except Exception as exc:  # one node's failure must not take the run, the cache or the app down
                seconds = time.perf_counter() - t0
                message = describe_failure(exc)
                if not isinstance(exc, NodeError):
                    log.warning("node %s (%s) failed", node_id, node.type, exc_info=exc)
                report.nodes[node_id] = NodeReport("failed", seconds, message)
                emit(NodeFailed(node_id, node.type, f"{node_id} ({node.type}): {message}", dependents(node_id)))
                continue
            seconds = time.perf_counter() - t0
            results[node_id] = outputs
            self._keep(keys[node_id], spec, outputs, run_keys)
            report.nodes[node_id] = NodeReport("ran", seconds)
            emit(NodeFinished(node_id, node.type, seconds))
            if spec.output:
                report.outputs[node_id] = outputs

        self.cache.evict()
        report.seconds = time.perf_counter() - started
        emit(Done(report))
        return report

    def _keys(
        self, graph: Graph, order: list[str], links_into: dict[str, list], salt: str
    ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
        """Every planned node's cache key and parameters. Keys depend only on parameters and the
        keys upstream, so they are known before anything runs; output nodes are salted with the
        output folder (their result is a file there)."""
        locate = _locator(self.settings.model_folders)
        keys: dict[str, str] = {}
        params: dict[str, dict[str, Any]] = {}
        for node_id in order:
            node = graph.node(node_id)
            spec = self.registry[node.type]
            values = node_params(node, spec)
            input_keys = {lk.to_port: f"{keys[lk.from_node]}:{lk.from_port}" for lk in links_into.get(node_id, [])}
            for name in input_keys:
                values.pop(name, None)  # a promoted parameter is driven by its wire
            keys[node_id] = cache_key(spec, values, input_keys, salt=salt if spec.output else "", locate=locate)
            params[node_id] = values
        return keys, params

    def _reuse(
        self, graph: Graph, order: list[str], keys: dict[str, str], links_into: dict[str, list], run_keys: set[str]
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """Walk back from the run's last nodes: a node whose result is cached (in memory, or on
        disk for nodes that persist) is reused, and what feeds it need not run at all.

        Returns the reused outputs by node and the set of nodes the run needs."""
        feeds = {lk.from_node for node_id in order for lk in links_into.get(node_id, ())}
        needed = {n for n in order if n not in feeds or self.registry[graph.node(n).type].output}
        reused: dict[str, dict[str, Any]] = {}
        for node_id in reversed(order):
            if node_id not in needed:
                continue
            spec = self.registry[graph.node(node_id).type]
            hit = self.cache.get(keys[node_id])
            if hit is None and spec.persist is not None and self.disk_cache is not None:
                hit = self.disk_cache.get(keys[node_id], spec.persist)
                if hit is not None:
                    self.cache.put(keys[node_id], hit, protect=run_keys)
            if hit is not None:
                reused[node_id] = hit
            else:
                needed.update(lk.from_node for lk in links_into.get(node_id, ()))
        return reused, needed

    def _keep(self, key: str, spec: Any, outputs: dict[str, Any], run_keys: set[str]) -> None:
        self.cache.put(key, outputs, protect=run_keys)
        if spec.persist is not None and self.disk_cache is not None:
            self.disk_cache.put(key, outputs, spec.persist)


def _locator(folders: tuple[Path, ...]) -> Callable[[str], str | None]:
    """Where a PATH parameter's file is, found as nodes find it: as given, in a model folder, or
    among the bundled files (so editing a model in a model folder re-runs what loads it)."""

    def locate(value: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            return None
        given = Path(value).expanduser()
        candidates = [given] if given.is_absolute() else [given, *(Path(f) / given for f in folders)]
        for candidate in candidates:
            try:
                if candidate.exists():
                    return str(candidate)
            except (OSError, ValueError):
                continue
        found = find_bundled(value)
        return str(found) if found is not None else None

    return locate


class _LazyDocument:
    """The graph as saved, built only when a node that runs needs it (to embed in its output)."""

    def __init__(self, graph: Graph) -> None:
        self._graph = graph
        self._document: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._document is None:
            self._document = graph_to_dict(self._graph)
        return self._document


def _check_wired_params(spec: Any, upstream: list, values: dict[str, Any]) -> None:
    """A value arriving over a wire into a promoted parameter obeys the parameter's own rules."""
    for link in upstream:
        param = spec.param(link.to_port)
        if param is not None:
            problem = param.check(values[link.to_port])
            if problem:
                raise NodeError(f"{link.to_port} (from {link.from_node}.{link.from_port}) {problem}")


def describe_failure(exc: BaseException) -> str:
    """A one-line, user-facing reason, with advice for running out of GPU memory."""
    name = type(exc).__name__
    if name == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return (
            "ran out of GPU memory; lower the width, height or frames, turn on offload in LoadModel, "
            "or turn on tiled VAE decoding"
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, NodeError):
        return text or name
    return f"{name}: {text}" if text else name
