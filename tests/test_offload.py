"""LoadModel's offload modes: group offloading's hooks on a tiny model, and the CPU keeping everything in RAM.

A GPU is not available in CI: the CUDA path (streams, prefetch, non-blocking copies) is checked by the
arguments it hands diffusers, not by running it.
"""

from __future__ import annotations

import logging

import pytest
from diffusion_graphs import make_context, text_to_image_graph
from tiny_models import build_wan

from nodes.diffusion.loading import OFFLOAD, apply_offload
from studio.engine import Engine

pytestmark = pytest.mark.ml


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory):
    return build_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


def _pipeline(folder):
    from diffusers import WanPipeline

    return WanPipeline.from_pretrained(folder, local_files_only=True)


def test_group_is_an_offload_choice(registry):
    assert "group" in OFFLOAD
    param = registry["LoadModel"].param("offload")
    assert "group" in param.choices and "CPU" in param.doc


def test_group_offload_installs_block_hooks_onloading_to_the_device(wan_folder):
    import torch
    from diffusers.hooks.group_offloading import _get_group_onload_device, _is_group_offload_enabled

    pipe = _pipeline(wan_folder)
    apply_offload(pipe, "group", "cpu")  # onload to the CPU: the hooks run, the blocks move nowhere
    for name in ("transformer", "vae", "text_encoder"):
        component = getattr(pipe, name)
        assert _is_group_offload_enabled(component), name
        assert _get_group_onload_device(component) == torch.device("cpu")
    assert pipe._execution_device == torch.device("cpu")


def test_group_offloaded_model_samples_the_same_frames(wan_folder, registry, monkeypatch):
    import numpy as np

    import nodes.diffusion.loading as loading

    reference = _frames(registry, wan_folder)
    # LoadModel turns offload off on the CPU; force group offloading (onloading to the CPU) past that.
    original = loading.apply_offload
    monkeypatch.setattr(loading, "apply_offload", lambda pipe, offload, device: original(pipe, "group", device))
    assert np.array_equal(reference, _frames(registry, wan_folder))


def _frames(registry, folder):
    graph = text_to_image_graph(folder, width=16, height=16, frames=5, cfg=1.0, steps=2)
    report = Engine("cpu", registry=registry).run(graph)
    assert report.ok, report.failed
    return report.outputs["preview"]["frames"].array


def test_group_offload_on_cuda_streams_and_prefetches(monkeypatch):
    """On CUDA the blocks are prefetched on a side stream with non-blocking copies (GPU path untested)."""
    import torch

    calls = []

    class Pipe:
        def enable_group_offload(self, **kwargs):
            calls.append(kwargs)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    apply_offload(Pipe(), "group", "cuda")
    (kwargs,) = calls
    assert kwargs["onload_device"] == torch.device("cuda") and kwargs["offload_device"] == torch.device("cpu")
    assert kwargs["offload_type"] == "block_level" and kwargs["num_blocks_per_group"] == 1
    assert kwargs["use_stream"] and kwargs["non_blocking"]

    calls.clear()
    apply_offload(Pipe(), "group", "mps")  # no CUDA streams on Apple GPUs: plain copies
    assert calls[0]["use_stream"] is False and calls[0]["onload_device"] == torch.device("mps")


def test_offload_on_the_cpu_keeps_the_model_in_memory(wan_folder, registry, caplog):
    spec = registry["LoadModel"]
    ctx = make_context("LoadModel")
    values = dict(path=str(wan_folder), family="auto", dtype="auto", offload="group", config="")
    with caplog.at_level(logging.WARNING):
        model = spec.compute(ctx, **values)["model"]
    assert model.offload == "none"
    assert any("no effect on the CPU" in r.getMessage() for r in caplog.records)
