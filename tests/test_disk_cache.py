"""The on-disk cache: expensive outputs survive the process, as data only, checked against their key."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from studio.engine import Engine, RunSettings
from studio.engine.disk_cache import DiskCache
from studio.graph import Graph, InputSpec, Link, Node, NodeRegistry, OutputSpec, ParamSpec, node_type
from studio.graph import types as t
from studio.graph.spec import DiskCodec

CALLS: Counter[str] = Counter()
TENSOR_CODEC = DiskCodec(
    dump=lambda outputs: ({"value": outputs["out"]}, {"kind": "tensor"}),
    load=lambda tensors, meta: {"out": tensors["value"]} if meta == {"kind": "tensor"} else {}[0],
)


def _registry() -> NodeRegistry:
    @node_type("Source", category="Test", params=[ParamSpec("n", t.INT, 3)], outputs=[OutputSpec("out", "T")])
    def source(ctx, *, n):
        CALLS["source"] += 1
        return {"out": n}

    @node_type(
        "Heavy",
        category="Test",
        inputs=[InputSpec("a", "T")],
        params=[ParamSpec("seed", t.SEED, 0)],
        outputs=[OutputSpec("out", "X")],
        persist=TENSOR_CODEC,
    )
    def heavy(ctx, *, a, seed):
        import torch

        CALLS["heavy"] += 1
        return {"out": torch.arange(a, dtype=torch.float32) + seed}

    @node_type("Keep", category="Test", inputs=[InputSpec("x", "X")], outputs=[OutputSpec("sum", t.FLOAT)], output=True)
    def keep(ctx, *, x):
        CALLS["keep"] += 1
        return {"sum": float(x.sum())}

    registry = NodeRegistry()
    registry.register_all([source, heavy, keep])
    return registry


def _graph(seed: int = 0) -> Graph:
    graph = Graph()
    graph.add_node(Node("source", "Source", {"n": 4}))
    graph.add_node(Node("heavy", "Heavy", {"seed": seed}))
    graph.add_node(Node("keep", "Keep"))
    graph.connect(Link("source", "out", "heavy", "a"))
    graph.connect(Link("heavy", "out", "keep", "x"))
    return graph


def _engine(tmp_path, disk: DiskCache) -> Engine:
    return Engine("cpu", registry=_registry(), settings=RunSettings(output_dir=tmp_path / "out"), disk_cache=disk)


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def test_a_new_process_reuses_the_heavy_output_and_skips_what_feeds_it(tmp_path):
    disk = DiskCache(tmp_path / "cache")
    first = _engine(tmp_path, disk).run(_graph())
    second = _engine(tmp_path, DiskCache(tmp_path / "cache")).run(_graph())  # a fresh engine: nothing in memory
    assert first.outputs["keep"] == second.outputs["keep"] == {"sum": 6.0}
    assert CALLS == {"source": 1, "heavy": 1, "keep": 2}
    assert {k: r.status for k, r in second.nodes.items()} == {"source": "cached", "heavy": "cached", "keep": "ran"}
    _engine(tmp_path, disk).run(_graph(seed=1))  # another key: computed again
    assert CALLS["heavy"] == 2 and len(disk.entries()) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncate", "other key"])
def test_a_damaged_or_foreign_entry_is_ignored_and_replaced(tmp_path, damage):
    disk = DiskCache(tmp_path / "cache")
    _engine(tmp_path, disk).run(_graph())
    [entry] = disk.entries()
    if damage == "garbage":
        entry.write_bytes(b"\x00" * 64)
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:-8])
    else:  # a valid entry of another key, renamed: its header says whose it is
        _engine(tmp_path, disk).run(_graph(seed=5))
        other = next(p for p in disk.entries() if p != entry)
        entry.write_bytes(other.read_bytes())
    report = _engine(tmp_path, disk).run(_graph())
    assert report.nodes["heavy"].status == "ran" and report.outputs["keep"] == {"sum": 6.0}
    assert disk.get(entry.stem, TENSOR_CODEC) is not None  # replaced by a good one


def test_the_disk_cache_stays_within_its_budget_dropping_the_least_recently_used(tmp_path):
    disk = DiskCache(tmp_path / "cache", byte_budget=10**9)
    for seed in range(3):
        _engine(tmp_path, disk).run(_graph(seed=seed))
    sizes = [p.stat().st_size for p in disk.entries()]
    disk.byte_budget = sum(sizes) - 1
    disk.evict()
    assert len(disk.entries()) == 2


@pytest.mark.ml
def test_the_samplers_latent_is_kept_so_a_failed_decode_does_not_cost_the_sampling(tmp_path, registry, families):
    from diffusion_graphs import text_to_image_graph

    from studio.bundled import find_bundled

    graph = text_to_image_graph(find_bundled("resources/models/starter"), width=64, height=64, frames=5, steps=2)
    settings = RunSettings(output_dir=tmp_path / "out")
    disk = DiskCache(tmp_path / "cache")
    first = Engine("cpu", registry=registry, families=families, settings=settings, disk_cache=disk).run(graph)
    again = Engine("cpu", registry=registry, families=families, settings=settings, disk_cache=disk).run(graph)
    assert first.ok and again.ok
    assert {k: r.status for k, r in again.nodes.items()} == {
        "load": "ran",  # the decoder needs the model
        "encode": "cached",
        "empty": "cached",
        "sampler": "cached",  # from disk: no sampling
        "decode": "ran",
        "preview": "ran",
    }
    frames = [r.outputs["preview"] for r in (first, again)]
    assert frames[0].keys() == frames[1].keys()
    np.testing.assert_array_equal(_frames(first), _frames(again))


def _frames(report):
    value = next(iter(report.outputs["preview"].values()))
    return getattr(value, "array", value)
