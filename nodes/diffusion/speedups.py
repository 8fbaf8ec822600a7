"""Step caching for one Sampler run: diffusers' cache hooks on the model's denoiser(s).

diffusers' pipelines feed the hooks from inside their own denoising loops (``cache_context`` around each
denoiser call, ``current_timestep`` for the timestep-ranged methods). Our families drive their own loops
(families/*.py), so this module feeds the hooks from the denoiser's calls instead, in one place for every
family: each call within a step gets a cache context of its own (``call0``, ``call1``, …: the conditional and
unconditional passes, and each context window, keep separate caches), and the timestep the call was given.
The hooks are attached for the run and always removed afterwards, also when it fails or is cancelled, so
the loaded model stays clean for the next run.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from nodes.diffusion.families.base import SampleJob
from nodes.diffusion.values import ModelHandle
from studio.nodeapi import NodeError

SPEEDUPS = ("none", "first_block", "mag", "taylorseer", "faster", "pab")

# speedup_threshold 0 picks these (diffusers' defaults, or the value its docs use).
DEFAULT_THRESHOLDS = {"first_block": 0.05, "mag": 0.06, "taylorseer": 5.0, "faster": 2.0, "pab": 2.0}

THRESHOLD_DOC = (
    "what the speedup's threshold means: first_block: how much the first block's output may change before "
    "the rest is computed again (0.05-0.2; higher is faster); mag: the magnitude error allowed to build up "
    "while steps are reused (0.06-0.24); taylorseer: steps between full computations, the ones between "
    "predicted (e.g. 5); faster, pab: attention is computed every N steps and reused in between (e.g. 2); "
    "0: the method's default"
)
SPEEDUP_DOC = (
    "reuse work between denoising steps (diffusers' cache hooks): first_block (first-block cache), mag "
    "(MagCache: its first run with a model and step count measures the model, later runs skip), taylorseer, "
    "faster (FasterCache's attention reuse), pab (pyramid attention broadcast); faster at some cost in "
    "detail. Transformer models (Wan, LTX, CogVideoX) take all, UNet models (SD, SDXL, AnimateDiff) taylorseer and pab"
)

_BLOCK_LISTS = ("blocks", "transformer_blocks", "single_transformer_blocks", "layers", "temporal_transformer_blocks")
# Where FasterCache looks for attention (its module-name patterns, anchored at the top).
_BLOCK_ATTENTION = re.compile(
    r"^(blocks|transformer_blocks|single_transformer_blocks|temporal_transformer_blocks)\..*attn"
)
# TaylorSeer's default patterns match only attention named exactly ``attn`` (Flux); ours name every
# attention layer by its usual names (Wan's, LTX's and the UNets' attn1/attn2), through its documented
# ``cache_identifiers``.
_NOT_MOTION = r"^(?!.*motion_modules)"  # AnimateDiff's motion modules: see the pab config
_TAYLORSEER_ATTENTION = [_NOT_MOTION + r"(.+\.)?attn\d?"]


def denoisers(model: ModelHandle) -> list[Any]:
    """The modules the family's loop calls once (or more) per step: the transformer(s) or the UNet."""
    pipe = model.pipeline
    found = [getattr(pipe, name, None) for name in ("transformer", "transformer_2", "unet")]
    return [module for module in found if module is not None]


def supported(denoiser: Any) -> list[str]:
    """The step-cache methods whose hooks find their layers in ``denoiser``."""
    methods = []
    if _blocks(denoiser):
        methods += ["first_block", "mag"]
    attention = [name for name, module in denoiser.named_modules() if _is_attention(module)]
    if any(re.fullmatch(_TAYLORSEER_ATTENTION[0], name) for name in attention):
        methods.append("taylorseer")
    if any(_BLOCK_ATTENTION.search(name) for name in attention):
        methods.append("faster")
    if attention:
        methods.append("pab")
    return methods


def _is_attention(module: Any) -> bool:
    from diffusers.models.attention import AttentionModuleMixin
    from diffusers.models.attention_processor import Attention

    return isinstance(module, (Attention, AttentionModuleMixin))


def _blocks(denoiser: Any) -> list[Any]:
    """The transformer blocks first-block cache and MagCache hook, in the order they run (their rule)."""
    import torch
    from diffusers.hooks._helpers import TransformerBlockRegistry

    blocks = []
    for name, child in denoiser.named_children():
        if name in _BLOCK_LISTS and isinstance(child, torch.nn.ModuleList):
            blocks += list(child)
    try:
        for block in blocks:
            TransformerBlockRegistry.get(type(block))
    except ValueError:  # a block class diffusers' hooks have no layout for
        return []
    return blocks if len(blocks) >= 2 else []


class _Calls:
    """Where the run is: the step, the call within it (its cache context's name) and its timestep."""

    def __init__(self) -> None:
        self.step = 0
        self.position = 0
        self.name = "call0"
        self.timestep = 1000.0

    def called(self, args: tuple, kwargs: dict) -> None:
        self.name = f"call{self.position}"
        self.position += 1
        t = kwargs.get("timestep", args[1] if len(args) > 1 else None)
        if t is not None:
            self.timestep = float(t.max()) if hasattr(t, "max") else float(t)

    def stepped(self) -> None:
        self.step += 1
        self.position = 0


def _context_hook(calls: _Calls, denoiser: Any) -> Any:
    """The outermost hook on a denoiser: names each call's cache context and, for the hooks that keep a
    single state (pyramid attention broadcast, FasterCache), gives each call position a state of its own,
    so the unconditional pass never reuses the conditional pass's attention."""
    from diffusers.hooks import ModelHook
    from diffusers.models.cache_utils import CacheMixin

    plain = [
        hook
        for module in denoiser.modules()
        for hook in getattr(getattr(module, "_diffusers_hook", None), "hooks", {}).values()
        if hook._is_stateful and hasattr(hook, "state")
    ]
    states: dict[tuple[int, str], Any] = {}

    class CallContext(ModelHook):
        def new_forward(self, module: Any, *args: Any, **kwargs: Any) -> Any:
            calls.called(args, kwargs)
            for hook in plain:
                key = (id(hook), calls.name)
                if key not in states:
                    states[key] = type(hook.state)()
                hook.state = states[key]
            # CacheMixin's context manager, also for a UNet (no CacheMixin): it only walks the hook registry.
            with CacheMixin.cache_context(module, calls.name, step_index=calls.step):
                return self.fn_ref.original_forward(*args, **kwargs)

    return CallContext()


_CONTEXT_HOOK = "studio_call_context"


@contextmanager
def _attached(denoiser: Any, config: Any, calls: _Calls) -> Iterator[None]:
    """``config``'s hooks and the call-context hook on ``denoiser`` for the ``with`` block; none after it."""
    from diffusers.hooks import HookRegistry

    registry = HookRegistry.check_if_exists_or_initialize(denoiser)
    cache_mixin = hasattr(denoiser, "enable_cache")
    before = _hook_names(denoiser)
    try:
        if cache_mixin:
            denoiser.enable_cache(config)
        else:
            _apply(denoiser, config)
        registry.register_hook(_context_hook(calls, denoiser), _CONTEXT_HOOK)
        yield
    finally:
        registry.remove_hook(_CONTEXT_HOOK, recurse=False)
        if cache_mixin and denoiser.is_cache_enabled:
            denoiser.disable_cache()
        # What a UNet's apply_* added (and anything a failed enable left) goes by name, module by module.
        for module, names in _hook_names(denoiser).items():
            for name in names - before.get(module, set()):
                module._diffusers_hook.remove_hook(name, recurse=False)
        registry.invalidate_child_registries_cache()


def _hook_names(denoiser: Any) -> dict[Any, set[str]]:
    return {
        module: set(module._diffusers_hook.hooks)
        for module in denoiser.modules()
        if getattr(module, "_diffusers_hook", None) is not None
    }


def _apply(denoiser: Any, config: Any) -> None:
    """What ``CacheMixin.enable_cache`` does, for a denoiser without CacheMixin (diffusers' UNets)."""
    import diffusers.hooks as hooks

    apply = {
        hooks.FasterCacheConfig: hooks.apply_faster_cache,
        hooks.FirstBlockCacheConfig: hooks.apply_first_block_cache,
        hooks.MagCacheConfig: hooks.apply_mag_cache,
        hooks.PyramidAttentionBroadcastConfig: hooks.apply_pyramid_attention_broadcast,
        hooks.TaylorSeerCacheConfig: hooks.apply_taylorseer_cache,
    }[type(config)]
    apply(denoiser, config)
    hooks.HookRegistry.check_if_exists_or_initialize(denoiser).invalidate_child_registries_cache()


def _config(method: str, threshold: float, calls: _Calls, denoiser: Any, mag_ratios: list[float] | None) -> Any:
    import diffusers.hooks as hooks

    every = max(1, round(threshold))
    if method == "first_block":
        return hooks.FirstBlockCacheConfig(threshold=threshold)
    if method == "mag":
        return hooks.MagCacheConfig(threshold=threshold, num_inference_steps=len(mag_ratios), mag_ratios=mag_ratios)
    if method == "taylorseer":
        return hooks.TaylorSeerCacheConfig(
            cache_interval=every, taylor_factors_dtype=denoiser.dtype, cache_identifiers=_TAYLORSEER_ATTENTION
        )
    if method == "pab":
        # AnimateDiff's motion modules sit in "transformer_blocks" too; their temporal attention changes
        # most between steps (the PAB paper), so it is always computed.
        return hooks.PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=every,
            cross_attention_block_skip_range=every,
            spatial_attention_block_identifiers=(_NOT_MOTION + ".*blocks",),
            cross_attention_block_identifiers=(_NOT_MOTION + ".*blocks",),
            current_timestep_callback=lambda: calls.timestep,
        )
    # FasterCache's classifier-free-guidance cache splits one batched [uncond, cond] call, a layout our
    # families' calls do not share; its attention reuse works on each call (is_guidance_distilled).
    return hooks.FasterCacheConfig(
        spatial_attention_block_skip_range=every,
        attention_weight_callback=lambda _module: 0.5,  # diffusers' default, passed to keep it quiet
        current_timestep_callback=lambda: calls.timestep,
        is_guidance_distilled=True,
    )


@contextmanager
def step_caching(
    model: ModelHandle, job: SampleJob, method: str, threshold: float, note: Callable[[str], None]
) -> Iterator[SampleJob]:
    """The job to sample with ``method``'s cache hooks on the model's denoiser(s) (``none``: the job as it
    is, nothing attached). ``note`` tells the user what the run did (MagCache's measuring run)."""
    if method == "none":
        yield job
        return
    if method not in SPEEDUPS:
        raise NodeError(f"speedup must be one of {', '.join(SPEEDUPS)}, got {method!r}")
    modules = denoisers(model)
    can = [m for m in SPEEDUPS[1:] if modules and all(m in supported(d) for d in modules)]
    if method not in can:
        label = model.adapter.label
        offered = ", ".join(can) if can else "none"
        raise NodeError(f"speedup {method} does not work with {label} models; they support: {offered}")
    threshold = threshold if threshold > 0 else DEFAULT_THRESHOLDS[method]
    calls = _Calls()
    inner = job.on_step

    def on_step(index: int, total: int, make: Callable[[], Any]) -> None:
        calls.stepped()
        inner(index, total, make)

    job = dataclasses.replace(job, on_step=on_step)
    ratios = None
    if method == "mag":
        from nodes.diffusion.mag_calibration import calibrated_ratios

        key = (job.steps, job.denoise, type(job.scheduler).__name__, job.cfg > 1.0)
        ratios = model.memo.setdefault("mag_ratios", {}).get(key)
        if ratios is None:
            note("MagCache: measuring this model at these settings; this run is not faster, later ones are")
            with calibrated_ratios(modules, calls, _blocks) as measured:
                yield job
            model.memo["mag_ratios"][key] = measured
            return
    with ExitStack() as stack:
        for index, denoiser in enumerate(modules):
            config = _config(method, threshold, calls, denoiser, ratios[index] if ratios else None)
            stack.enter_context(_attached(denoiser, config, calls))
        yield job
