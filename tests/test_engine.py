import threading

import pytest

from studio.engine import CancelToken, Engine, RenderQueue
from studio.engine.cache import NodeCache
from studio.engine.plan import plan
from studio.graph import GraphInvalid, Link, Node
from tests.recording_nodes import Recorder, chain


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def engine(rec, tmp_path):
    from studio.engine import RunSettings

    return Engine("cpu", registry=rec.registry, settings=RunSettings(output_dir=tmp_path))


def diamond():
    """a -> b -> d(sink), a -> c -> e(sink): two independent outputs sharing a source."""
    g = chain(("Const", "a"), ("Add", "b"), ("Sink", "d"))
    g.add_node(Node("c", "Add"))
    g.add_node(Node("e", "Sink"))
    g.connect(Link("a", "out", "c", "a"))
    g.connect(Link("c", "out", "e", "a"))
    return g


def test_run_computes_outputs_and_reports_each_node(engine):
    graph = chain(
        ("Const", "src"), ("Add", "plus"), ("Sink", "out"), params={"src": {"value": 4}, "plus": {"offset": 3}}
    )
    events = []
    report = engine.run(graph, on_event=events.append)
    assert report.ok
    assert report.outputs["out"] == {"result": 7}
    assert {k: r.status for k, r in report.nodes.items()} == {"src": "ran", "plus": "ran", "out": "ran"}
    assert [e.kind for e in events][-1] == "done"
    assert [e.node_id for e in events if e.kind == "node_started"] == ["src", "plus", "out"]


def test_only_nodes_feeding_an_output_run(engine, rec):
    graph = chain(("Const", "src"), ("Sink", "out"))
    graph.add_node(Node("dangling", "Add"))
    graph.connect(Link("src", "out", "dangling", "a"))
    report = engine.run(graph)
    assert "dangling" not in report.nodes
    assert rec.calls["dangling"] == 0


def test_unchanged_rerun_is_fully_cached(engine, rec):
    graph = chain(("Const", "src"), ("Add", "plus"), ("Sink", "out"))
    engine.run(graph)
    report = engine.run(graph)
    assert {r.status for r in report.nodes.values()} == {"cached"}
    assert report.outputs["out"] == {"result": 1}
    assert sum(rec.calls.values()) == 3


def test_changing_one_parameter_reruns_that_node_and_its_dependents_only(engine, rec):
    graph = diamond()
    engine.run(graph)
    rec.calls.clear()
    graph.set_param("b", "offset", 10)
    report = engine.run(graph)
    assert dict(rec.calls) == {"b": 1, "d": 1}
    assert report.nodes["a"].status == "cached"
    assert report.nodes["c"].status == "cached" and report.nodes["e"].status == "cached"
    assert report.outputs["d"] == {"result": 11}


def test_setting_a_parameter_back_hits_the_cache_again(engine, rec):
    graph = chain(("Const", "src"), ("Sink", "out"))
    engine.run(graph)
    graph.set_param("src", "value", 5)
    engine.run(graph)
    graph.set_param("src", "value", 1)
    rec.calls.clear()
    report = engine.run(graph)
    assert sum(rec.calls.values()) == 0 and report.outputs["out"] == {"result": 1}


def test_moving_a_node_does_not_invalidate_the_cache(engine, rec):
    graph = chain(("Const", "src"), ("Sink", "out"))
    engine.run(graph)
    graph.move_node("src", (999, 999))
    rec.calls.clear()
    engine.run(graph)
    assert sum(rec.calls.values()) == 0


def test_a_failing_node_skips_its_dependents_and_the_rest_still_runs(engine, rec):
    graph = diamond()
    graph.remove_node("b")
    graph.add_node(Node("b", "Fail"))
    graph.connect(Link("a", "out", "b", "a"))
    graph.connect(Link("b", "out", "d", "a"))
    events = []
    report = engine.run(graph, on_event=events.append)
    assert not report.ok
    assert report.nodes["b"].status == "failed"
    assert "refused the value 1" in report.nodes["b"].error
    assert report.nodes["d"].status == "skipped"
    assert report.nodes["e"].status == "ran" and report.outputs["e"] == {"result": 1}
    failed = [e for e in events if e.kind == "node_failed"]
    assert failed[0].message.startswith("b (Fail): ") and failed[0].skipped == ("d",)


def test_engine_stays_usable_after_a_failure_and_keeps_its_cache(engine, rec):
    graph = chain(("Const", "src"), ("Fail", "f"), ("Sink", "out"))
    engine.run(graph)
    graph.set_param("f", "fail", False)
    rec.calls.clear()
    report = engine.run(graph)
    assert report.ok and report.nodes["src"].status == "cached"
    assert dict(rec.calls) == {"f": 1, "out": 1}


def test_an_unexpected_exception_is_reported_with_its_type(rec, engine):
    from studio.graph import OutputSpec, node_type

    @node_type("Boom", category="Test", outputs=[OutputSpec("out", "NUMBER")])
    def boom(ctx):
        raise ZeroDivisionError("division by zero")

    rec.registry.register(boom)
    graph = chain(("Boom", "x"), ("Sink", "out"))
    report = engine.run(graph)
    assert report.nodes["x"].status == "failed"
    assert report.nodes["x"].error == "ZeroDivisionError: division by zero"


def test_invalid_graph_runs_nothing(engine, rec):
    graph = chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 5000}})
    with pytest.raises(GraphInvalid) as caught:
        engine.run(graph)
    assert "src (Const): value must be between -1000 and 1000, got 5000" in str(caught.value)
    assert sum(rec.calls.values()) == 0


def test_graph_without_output_is_refused(engine):
    graph = chain(("Const", "src"), ("Add", "plus"))
    with pytest.raises(GraphInvalid, match="no output node"):
        engine.run(graph)


def test_cancel_mid_run_stops_within_a_step_and_keeps_earlier_outputs(engine, rec):
    graph = chain(("Const", "src"), ("Slow", "slow"), ("Sink", "out"), params={"slow": {"steps": 1000}})
    rec.gate.clear()
    token = CancelToken()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("r", engine.run(graph, cancel=token)))
    thread.start()
    assert rec.started.wait(5)
    token.cancel()
    rec.gate.set()
    thread.join(10)
    report = result["r"]
    assert report.cancelled and not report.ok
    assert report.nodes["slow"].status == "skipped" and report.nodes["out"].status == "skipped"
    assert rec.calls["out"] == 0
    # the finished source stays cached; a new run completes
    rec.calls.clear()
    graph.set_param("slow", "steps", 2)
    report = engine.run(graph)
    assert report.ok and report.nodes["src"].status == "cached"


def test_previews_and_progress_are_emitted(engine):
    graph = chain(("Const", "src"), ("Slow", "slow"), ("Sink", "out"), params={"slow": {"steps": 3}})
    events = []
    engine.run(graph, on_event=events.append)
    previews = [e for e in events if e.kind == "preview"]
    assert [(p.step, p.total) for p in previews] == [(1, 3), (2, 3), (3, 3)]
    assert [e.done for e in events if e.kind == "progress"][-1] == 3


def test_promoted_parameter_is_driven_by_a_wire(rec, engine):
    graph = chain(("Const", "src"), ("Sink", "out"))
    graph.add_node(Node("drive", "IntSource", {"v": 42}))
    graph.connect(Link("drive", "value", "src", "value"))
    report = engine.run(graph)
    assert report.outputs["out"] == {"result": 42}


def test_plan_orders_topologically_and_keeps_graph_order_for_ties(rec):
    graph = diamond()
    order = plan(graph, rec.registry)
    assert order.index("a") < order.index("b") < order.index("d")
    assert order.index("a") < order.index("c") < order.index("e")
    assert order == ["a", "b", "d", "c", "e"] or order == ["a", "b", "c", "d", "e"]


def test_cache_evicts_least_recently_used_under_its_budget():
    import numpy as np

    cache = NodeCache(byte_budget=2500)
    cache.put("a", {"x": np.zeros(1000, np.uint8)})
    cache.put("b", {"x": np.zeros(1000, np.uint8)})
    assert cache.get("a") is not None  # a is now more recently used than b
    cache.put("c", {"x": np.zeros(1000, np.uint8)})
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.nbytes <= 2500


def test_cache_never_evicts_what_the_running_graph_uses():
    import numpy as np

    cache = NodeCache(byte_budget=1500)
    cache.put("model", {"x": np.zeros(1000, np.uint8)})
    cache.put("latent", {"x": np.zeros(1000, np.uint8)}, protect={"model"})
    assert "model" in cache and "latent" in cache
    cache.evict()
    assert len(cache) == 1


def test_models_and_outputs_are_budgeted_apart_so_outputs_never_push_out_a_loaded_model():
    import numpy as np

    class Model:
        cache_pool = "models"

        def cache_nbytes(self):
            return 5000

    cache = NodeCache(byte_budget=2500, model_budget=6000)
    cache.put("model", {"model": Model()})
    for name in "abcdef":  # many runs' worth of outputs
        cache.put(name, {"x": np.zeros(1000, np.uint8)})
    assert "model" in cache and cache.pool_nbytes("models") == 5000
    assert cache.pool_nbytes("outputs") <= 2500 and "f" in cache and "a" not in cache
    cache.put("model2", {"model": Model()})  # a second model over the model budget evicts the older one
    assert "model" not in cache and "model2" in cache and "f" in cache


def test_the_default_budgets_are_shares_of_the_machines_memory(monkeypatch):
    from studio.engine import cache as cache_module

    monkeypatch.setattr(cache_module, "physical_memory", lambda: 16 * 1024**3)
    cache = NodeCache()
    assert (cache.byte_budget, cache.model_budget) == (int(1.6 * 1024**3), 8 * 1024**3)


def test_render_queue_runs_jobs_in_order_and_honours_reorder(rec, engine):
    seen = []
    queue = RenderQueue(
        engine, on_event=lambda job, ev: seen.append(job.id) if ev is not None and ev.kind == "done" else None
    )
    try:
        queue.pause()
        first = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 1}}))
        second = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 2}}))
        third = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 3}}))
        queue.move(third.id, 0)
        queue.remove(second.id)
        queue.resume()
        assert queue.wait_idle(10)
        assert seen == [third.id, first.id]
        assert first.status == "done" and first.report.outputs["out"] == {"result": 1}
    finally:
        queue.shutdown()


def test_render_queue_job_keeps_a_snapshot_of_the_graph(rec, engine):
    queue = RenderQueue(engine)
    try:
        queue.pause()
        graph = chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 7}})
        job = queue.submit(graph)
        graph.set_param("src", "value", 8)  # editing after queueing must not change the job
        queue.resume()
        assert queue.wait_idle(10)
        assert job.report.outputs["out"] == {"result": 7}
    finally:
        queue.shutdown()


def test_render_queue_cancel_and_invalid_jobs_do_not_stop_the_worker(rec, engine):
    queue = RenderQueue(engine)
    try:
        rec.gate.clear()
        slow = queue.submit(chain(("Const", "src"), ("Slow", "s"), ("Sink", "out"), params={"s": {"steps": 1000}}))
        bad = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": "x"}}))
        good = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 9}}))
        assert rec.started.wait(5)
        queue.cancel()
        rec.gate.set()
        assert queue.wait_idle(10)
        assert (slow.status, bad.status, good.status) == ("cancelled", "invalid", "done")
        assert "value must be a whole number" in bad.error
    finally:
        queue.shutdown()


def test_nodes_that_never_ask_for_the_device_do_not_resolve_it(rec):
    from studio.engine import RunSettings

    engine = Engine("auto", registry=rec.registry, settings=RunSettings())
    engine.run(chain(("Const", "src"), ("Sink", "out")))
    assert engine._device is None  # "auto" was never resolved, so torch was never needed


def test_a_wired_value_out_of_the_parameters_range_fails_the_node_naming_both(rec, engine):
    graph = chain(("Const", "src"), ("Sink", "out"))
    graph.add_node(Node("drive", "IntSource", {"v": 5000}))
    graph.connect(Link("drive", "value", "src", "value"))
    report = engine.run(graph)
    assert report.nodes["src"].status == "failed"
    assert report.nodes["src"].error == "value (from drive.value) must be between -1000 and 1000, got 5000"
    assert rec.calls["src"] == 0


def test_a_new_engine_takes_over_after_the_running_job_and_queued_jobs_stay(rec, engine, tmp_path):
    from studio.engine import RunSettings

    queue = RenderQueue(engine)
    try:
        rec.gate.clear()
        running = queue.submit(chain(("Const", "src"), ("Slow", "s"), ("Sink", "out"), params={"s": {"steps": 3}}))
        queued = queue.submit(chain(("Const", "src"), ("Sink", "out"), params={"src": {"value": 5}}))
        assert rec.started.wait(5)
        fresh = Engine("cpu", registry=rec.registry, settings=RunSettings(output_dir=tmp_path / "new"))
        queue.replace_engine(fresh)  # e.g. the user changed a setting mid-run
        assert queue.engine is engine  # the running job keeps its engine
        rec.gate.set()
        assert queue.wait_idle(10)
        assert (running.status, queued.status) == ("done", "done")
        assert queue.engine is fresh
        assert (len(engine.cache), len(fresh.cache)) == (3, 2)  # each job's nodes cached where they ran
    finally:
        queue.shutdown()


def test_models_are_budgeted_where_their_weights_sit_and_unloaded_on_request():
    import numpy as np

    class Model:
        cache_pool = "models"

        def __init__(self, vram, ram):
            self.placed = {"vram": vram, "ram": ram}

        def cache_placement(self):
            return self.placed

    cache = NodeCache(byte_budget=10_000, model_budget=10_000)
    cache.budgets["vram"] = 6000  # as the engine sets it once the device is a GPU
    cache.put("big", {"model": Model(vram=5000, ram=100)})
    cache.put("offloaded", {"model": Model(vram=0, ram=8000)})  # sequential offload: weights in RAM
    cache.put("frames", {"x": np.zeros(1000, np.uint8)})
    assert {"big", "offloaded", "frames"} <= set(cache._entries)
    cache.put("second", {"model": Model(vram=5000, ram=0)})  # two models do not fit the GPU
    assert "big" not in cache and "second" in cache and "offloaded" in cache
    assert (cache.place_nbytes("vram"), cache.place_nbytes("ram")) == (5000, 8000)
    assert sorted(cache.drop("models")) == ["offloaded", "second"]
    assert "frames" in cache and cache.pool_nbytes("models") == 0


def test_unload_models_drops_loaded_models_and_keeps_other_outputs(rec):
    from studio.engine import RunSettings
    from studio.graph import Graph, InputSpec, NodeRegistry, OutputSpec, ParamSpec, node_type
    from studio.graph import types as t

    class Handle:
        cache_pool = "models"

        def cache_placement(self):
            return {"ram": 100}

    @node_type("Loader", category="Test", outputs=[OutputSpec("model", t.MODEL)])
    def loader(ctx):
        return {"model": Handle()}

    @node_type(
        "Use",
        category="Test",
        inputs=[InputSpec("model", t.MODEL)],
        params=[ParamSpec("k", t.INT, 0)],
        outputs=[OutputSpec("n", "N")],
        output=True,
    )
    def use(ctx, *, model, k):
        return {"n": k}

    registry = NodeRegistry()
    registry.register_all([loader, use])
    engine = Engine("cpu", registry=registry, settings=RunSettings())
    graph = Graph()
    graph.add_node(Node("load", "Loader"))
    graph.add_node(Node("use", "Use"))
    graph.connect(Link("load", "model", "use", "model"))
    engine.run(graph)
    assert engine.cache.pool_nbytes("models") == 100
    assert len(engine.unload_models()) == 1
    assert engine.cache.pool_nbytes("models") == 0 and len(engine.cache) == 1  # the other output stays
    graph.set_param("use", "k", 2)
    assert engine.run(graph).nodes["load"].status == "ran"  # loaded again only when needed


def test_editing_a_file_in_a_model_folder_reruns_the_node_that_reads_it(tmp_path):
    from studio.engine import RunSettings
    from studio.graph import NodeRegistry, OutputSpec, ParamSpec, node_type
    from studio.graph import types as t

    reads = []

    @node_type(
        "Read", category="Test", params=[ParamSpec("path", t.PATH, "")], outputs=[OutputSpec("n", "N")], output=True
    )
    def read(ctx, *, path):
        reads.append(path)
        return {"n": 1}

    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "weights.safetensors").write_bytes(b"one")
    registry = NodeRegistry()
    registry.register(read)
    engine = Engine("cpu", registry=registry, settings=RunSettings(model_folders=(folder,)))
    graph = chain(("Read", "r"), params={"r": {"path": "weights.safetensors"}})  # relative: in the model folder
    engine.run(graph)
    engine.run(graph)
    assert len(reads) == 1
    (folder / "weights.safetensors").write_bytes(b"a new version")
    engine.run(graph)
    assert len(reads) == 2
