"""Step caching (the Sampler's speedup): diffusers' cache hooks on tiny Wan and SD models.

What a user notices: with a threshold that makes a method reuse work, less attention is computed
and the result stays close to the uncached one; with none (or a setting that never reuses) the
result is the uncached one exactly; nothing stays attached to the loaded model afterwards."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ml

WAN_METHODS = ("first_block", "mag", "taylorseer", "faster", "pab")
STEPS = 8


@pytest.fixture(scope="module")
def wan(tmp_path_factory):
    from diffusion_graphs import load_model_handle
    from tiny_models import build_wan

    return load_model_handle(build_wan(tmp_path_factory.mktemp("models") / "tiny-wan"))


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    from diffusion_graphs import load_model_handle
    from tiny_models import build_sd

    return load_model_handle(build_sd(tmp_path_factory.mktemp("models") / "tiny-sd"))


def _denoiser(model):
    return model.pipeline.transformer if model.family == "wan" else model.pipeline.unet


class AttentionRows:
    """Counts the rows (batch items) every attention layer's query projection computes."""

    def __init__(self, denoiser):
        self.rows = 0
        self.handles = [
            module.register_forward_hook(self._count)
            for name, module in denoiser.named_modules()
            if name.endswith(".to_q")
        ]

    def _count(self, _module, args, _output):
        self.rows += args[0].shape[0]

    def close(self):
        for handle in self.handles:
            handle.remove()


def _hooks_left(model) -> int:
    return sum(
        len(module._diffusers_hook.hooks) for module in _denoiser(model).modules() if hasattr(module, "_diffusers_hook")
    )


_INPUTS: dict[int, dict] = {}
_PLAIN: dict[int, tuple] = {}


def _inputs(registry, model):
    """The prompts and latent, encoded once per model."""
    if id(model) not in _INPUTS:
        _INPUTS[id(model)] = _encode(registry, model)
    return _INPUTS[id(model)]


def _plain(registry, model):
    """The uncached run, once per model."""
    if id(model) not in _PLAIN:
        _PLAIN[id(model)] = _sample(registry, model)
    return _PLAIN[id(model)]


def _encode(registry, model):
    from diffusion_graphs import run_node

    video = model.family == "wan"
    size = 16 if video else 32
    return {
        "model": model,
        "positive": run_node(registry, "TextEncode", model=model, text="a red cat runs")["conditioning"],
        "negative": run_node(registry, "TextEncode", model=model, text="a blue sky")["conditioning"],
        "latent": run_node(registry, "EmptyLatent", model=model, width=size, height=size, frames=5 if video else 1)[
            "latent"
        ],
    }


def _sample(registry, model, speedup="none", threshold=0.0):
    """The sampled latent and the attention rows the run computed."""
    from diffusion_graphs import run_node

    counter = AttentionRows(_denoiser(model))
    try:
        out = run_node(
            registry,
            "Sampler",
            **_inputs(registry, model),
            steps=STEPS,
            cfg=5.0,
            seed=5,
            speedup=speedup,
            speedup_threshold=threshold,
        )["latent"].samples
    finally:
        counter.close()
    return out, counter.rows


def _relative_error(out, reference) -> float:
    return float((out - reference).norm() / reference.norm())


def _measured_mag(registry, model):
    """MagCache's first run with a model measures it: it runs uncached."""
    model.memo.pop("mag_ratios", None)
    out, rows = _sample(registry, model, "mag", 1.0)
    return out, rows


# A threshold per method that makes it reuse work on these tiny models within 8 steps.
REUSING = {"first_block": 0.5, "mag": 1.0, "taylorseer": 2.0, "faster": 2.0, "pab": 2.0}
# One that never reuses.
NEVER = {"first_block": 1e-9, "mag": 1e-9, "taylorseer": 1.0, "faster": 1.0, "pab": 1.0}


@pytest.mark.parametrize("method", WAN_METHODS)
def test_wan_each_method_computes_less_attention_and_stays_close(registry, wan, method):
    plain, all_rows = _plain(registry, wan)
    if method == "mag":
        measured, rows = _measured_mag(registry, wan)
        assert rows == all_rows and (measured - plain).abs().max() < 1e-5
    cached, rows = _sample(registry, wan, method, REUSING[method])
    assert rows < all_rows
    assert 0 < _relative_error(cached, plain) < 0.15
    assert _hooks_left(wan) == 0


@pytest.mark.parametrize("method", WAN_METHODS)
def test_wan_a_threshold_that_never_reuses_is_the_uncached_run(registry, wan, method):
    plain, all_rows = _plain(registry, wan)
    if method == "mag":
        _measured_mag(registry, wan)
    cached, rows = _sample(registry, wan, method, NEVER[method])
    assert rows == all_rows
    assert (cached - plain).abs().max() < 1e-5


@pytest.mark.parametrize("method", ["taylorseer", "pab"])
def test_sd_unet_methods_compute_less_attention_and_stay_close(registry, sd, method):
    plain, all_rows = _plain(registry, sd)
    cached, rows = _sample(registry, sd, method, REUSING[method])
    assert rows < all_rows
    assert 0 < _relative_error(cached, plain) < 0.15
    never, rows = _sample(registry, sd, method, NEVER[method])
    assert rows == all_rows and (never - plain).abs().max() < 1e-5


def test_after_a_cached_run_the_model_samples_exactly_as_a_fresh_one(registry, wan, sd):
    import torch

    for model, method in ((wan, "first_block"), (sd, "pab")):
        before, _ = _plain(registry, model)
        _sample(registry, model, method, REUSING[method])
        assert _hooks_left(model) == 0
        after, _ = _sample(registry, model)
        assert torch.equal(before, after)


def test_hooks_are_removed_when_the_run_fails(wan):
    from nodes.diffusion.families.base import SampleJob
    from nodes.diffusion.speedups import step_caching

    job = SampleJob(None, None, None, STEPS, 5.0, None, None, 1.0, on_step=lambda *args: None)
    with pytest.raises(RuntimeError, match="cancelled"), step_caching(wan, job, "first_block", 0.1, print):
        assert _hooks_left(wan) > 0
        raise RuntimeError("cancelled")
    assert _hooks_left(wan) == 0


def test_a_method_the_family_cannot_use_names_the_family_and_what_it_supports(registry, sd):
    from studio.nodeapi import NodeError

    for method in ("first_block", "mag", "faster"):
        with pytest.raises(
            NodeError,
            match=rf"speedup {method} does not work with Stable Diffusion 1.x/2.x models; "
            r"they support: taylorseer, pab",
        ):
            _sample(registry, sd, method)
    assert _hooks_left(sd) == 0


def test_mag_measures_once_per_model_and_settings(registry, wan):
    wan.memo.pop("mag_ratios", None)
    plain, all_rows = _plain(registry, wan)
    first, rows = _sample(registry, wan, "mag", 1.0)
    assert rows == all_rows and (first - plain).abs().max() < 1e-5
    ratios = next(iter(wan.memo["mag_ratios"].values()))
    assert [len(r) for r in ratios] == [STEPS] and ratios[0][0] == 1.0
    _, rows = _sample(registry, wan, "mag", 1.0)
    assert rows < all_rows
