"""The window's render process: graphs run in a child process, events and reports come back,
a crash there fails the job (not the window), and the next run starts a new process."""

from __future__ import annotations

import functools
import os
import threading

import pytest

from studio.engine import CancelToken, Done, NodeCached, Progress
from studio.engine.process import ProcessEngine, RenderProcessError
from studio.graph import GraphInvalid, Node
from tests.process_nodes import broken_engine, nodes_engine
from tests.recording_nodes import chain


@pytest.fixture
def engine(tmp_path):
    engine = ProcessEngine(functools.partial(nodes_engine, str(tmp_path)))
    yield engine
    engine.close()
    assert not engine.running


def pid_graph():
    return chain(("Pid", "pid"), ("Slow", "slow"), ("Sink", "sink"), params={"slow": {"steps": 3}})


def test_a_graph_runs_in_a_child_process_and_its_events_come_back(engine):
    events = []
    report = engine.run(pid_graph(), events.append)
    assert report.ok
    child = report.outputs["sink"]["result"]
    assert child != os.getpid() and engine.running
    kinds = [e.kind for e in events]
    assert kinds[0] == "notice" and "Starting the render process" in events[0].text  # said while torch imports
    assert kinds[1] == "node_started" and kinds[-1] == "done" and isinstance(events[-1], Done)
    progress = [(e.done, e.total) for e in events if isinstance(e, Progress) and e.node_id == "slow"]
    assert progress[0] == (1, 3) and progress[-1] == (3, 3)
    assert any(e.kind == "preview" for e in events)
    again = []
    second = engine.run(pid_graph(), again.append)  # the same process keeps its cache between runs
    assert second.outputs["sink"]["result"] == child
    assert {e.node_id for e in again if isinstance(e, NodeCached)} == {"pid", "slow", "sink"}
    assert not any(e.kind == "notice" for e in again)  # started already: nothing to wait for


def test_an_invalid_graph_is_refused_with_its_problems(engine):
    graph = chain(("Const", "a"), ("Sink", "sink"))
    graph.add_node(Node("ghost", "NoSuchType", {}))
    with pytest.raises(GraphInvalid) as raised:
        engine.run(graph)
    assert any(p.node_id == "ghost" for p in raised.value.problems)
    assert "NoSuchType" in str(raised.value)


def test_a_crash_fails_the_job_and_the_next_run_starts_a_new_process(engine):
    first = engine.run(pid_graph()).outputs["sink"]["result"]
    with pytest.raises(RenderProcessError, match="was killed"):
        engine.run(chain(("Crash", "crash"), ("Sink", "sink")))
    report = engine.run(pid_graph())
    assert report.ok and report.outputs["sink"]["result"] != first


def test_cancel_stops_the_job_and_the_process_serves_the_next(engine):
    cancel = CancelToken()
    started = threading.Event()

    def on_event(event):
        if isinstance(event, Progress):
            started.set()

    threading.Thread(target=lambda: started.wait(30) and cancel.cancel(), daemon=True).start()
    report = engine.run(
        chain(("Nap", "nap"), ("Sink", "sink"), params={"nap": {"steps": 5000}}), on_event, cancel=cancel
    )
    assert report.cancelled and engine.running
    assert engine.run(pid_graph()).ok


def test_caches_are_reported_and_cleared_across_the_process(engine):
    assert engine.cache_sizes() == {"outputs": 0, "models": 0, "disk": 0}  # nothing started yet
    engine.run(pid_graph())
    assert engine.cache_sizes()["outputs"] > 0  # reported with the job's end, not some time after
    assert engine.unload_models() == []  # no models in these graphs
    engine.clear_outputs()
    assert engine.cache_sizes()["outputs"] == 0
    events = []
    engine.run(pid_graph(), events.append)
    assert not any(isinstance(e, NodeCached) for e in events)  # cleared: everything ran again


def test_an_engine_that_cannot_start_fails_each_job_with_the_reason():
    engine = ProcessEngine(broken_engine)
    try:
        with pytest.raises(RenderProcessError, match="no such device: cuda:7"):
            engine.run(pid_graph())
        with pytest.raises(RenderProcessError, match="could not start"):
            engine.estimate(pid_graph())
    finally:
        engine.close()


def test_a_gpu_fault_that_poisons_the_process_restarts_it_for_the_next_run(engine):
    """CUDA's sticky errors (an illegal memory access, a device-side assert) leave the process's GPU
    unusable: the job fails with its error, says the process restarts, and the next run gets a new one."""
    first = engine.run(pid_graph()).outputs["sink"]["result"]
    events = []
    report = engine.run(chain(("GpuFault", "fault"), ("Sink", "sink")), events.append)
    assert report.failed["fault"].error.startswith("RuntimeError: CUDA error: an illegal memory access")
    notices = [e.text for e in events if e.kind == "notice"]
    assert notices and "the next run starts a new one" in notices[-1]
    again = engine.run(pid_graph())
    assert again.ok and again.outputs["sink"]["result"] != first


def test_a_job_that_cannot_stop_is_ended_with_its_process_after_the_grace_time(engine, monkeypatch):
    import studio.engine.process as process

    monkeypatch.setattr(process, "CANCEL_GRACE_S", 1.0)
    first = engine.run(pid_graph()).outputs["sink"]["result"]
    cancel = CancelToken()
    started = threading.Event()
    threading.Thread(target=lambda: started.wait(30) and cancel.cancel(), daemon=True).start()
    graph = chain(("Stubborn", "stubborn"), ("Sink", "sink"))
    report = engine.run(graph, lambda e: isinstance(e, Progress) and started.set(), cancel=cancel)
    assert report.cancelled  # within the grace time and a moment, not the node's two minutes
    again = engine.run(pid_graph())
    assert again.ok and again.outputs["sink"]["result"] != first  # a new process


def test_the_render_process_yields_the_cpu_to_the_window(engine):
    """Renders are background work: on a machine with few cores the sampler's threads must not take
    the window's time slices, so the render process runs at a lower priority."""
    from studio.engine.process import CHILD_NICENESS

    report = engine.run(chain(("Niceness", "nice"), ("Sink", "sink")))
    assert report.outputs["sink"]["result"] == min(19, os.nice(0) + CHILD_NICENESS)
