"""Engines for the render-process tests, built in the child by a module-level factory."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from studio.engine import Engine, RunSettings
from studio.graph import OutputSpec, ParamSpec, node_type
from studio.graph import types as t
from tests.recording_nodes import NUMBER, Recorder


def _extra_specs():
    @node_type("Pid", category="Test", outputs=[OutputSpec("out", NUMBER)])
    def pid(ctx):
        return {"out": os.getpid()}

    @node_type(
        "Nap",
        category="Test",
        params=[ParamSpec("steps", t.INT, 100, min=1, max=100_000)],
        outputs=[OutputSpec("out", NUMBER)],
    )
    def nap(ctx, *, steps):
        for step in range(steps):
            ctx.check_cancelled()
            ctx.progress(step + 1, steps)
            time.sleep(0.02)
        return {"out": steps}

    @node_type("Crash", category="Test", outputs=[OutputSpec("out", NUMBER)])
    def crash(ctx):
        os.kill(os.getpid(), signal.SIGKILL)  # as the system does to a process out of memory
        return {"out": 0}

    @node_type("Niceness", category="Test", outputs=[OutputSpec("out", NUMBER)])
    def niceness(ctx):
        return {"out": os.nice(0)}

    @node_type("GpuFault", category="Test", outputs=[OutputSpec("out", NUMBER)])
    def gpu_fault(ctx):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    return [pid, nap, crash, niceness, gpu_fault]


def nodes_engine(output_dir: str) -> Engine:
    return Engine("cpu", registry=nodes_registry(), settings=RunSettings(output_dir=Path(output_dir)))


def broken_engine() -> Engine:
    raise RuntimeError("no such device: cuda:7")


def nodes_registry():
    """The same node types in the window's process (it validates before it queues)."""
    registry = Recorder().registry
    registry.register_all([*_extra_specs(), *_stubborn_specs()])
    return registry


def _stubborn_specs():
    @node_type("Stubborn", category="Test", outputs=[OutputSpec("out", NUMBER)])
    def stubborn(ctx):
        ctx.progress(0, 1)
        time.sleep(120)  # a model load that cannot stop between steps
        return {"out": 0}

    return [stubborn]
