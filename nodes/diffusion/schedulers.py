"""Scheduler choice: diffusers' class names without the ``Scheduler`` suffix, plus ``default``."""

from __future__ import annotations

from typing import Any

from studio.nodeapi import NodeError

# Schedulers for noise-prediction models (SD, SDXL, AnimateDiff).
NOISE_SCHEDULERS = (
    "DDIM",
    "DDPM",
    "PNDM",
    "LMSDiscrete",
    "EulerDiscrete",
    "EulerAncestralDiscrete",
    "HeunDiscrete",
    "KDPM2Discrete",
    "KDPM2AncestralDiscrete",
    "DPMSolverMultistep",
    "DPMSolverSinglestep",
    "DEISMultistep",
    "UniPCMultistep",
)
# Schedulers for flow-matching models (Wan).
FLOW_SCHEDULERS = ("FlowMatchEulerDiscrete", "UniPCMultistep", "DPMSolverMultistep")

SCHEDULER_CHOICES = ("default", *dict.fromkeys(NOISE_SCHEDULERS + FLOW_SCHEDULERS))


def make_scheduler(name: str, model: Any, shift: float = 0.0) -> Any:
    """A fresh scheduler for one sampling run, configured from the model's own scheduler.

    The model's scheduler object is never stepped itself: schedulers keep state between
    steps, and the loaded model is shared (and cached) across runs. ``shift`` (flow-matching
    models only; 0: as configured) replaces the timestep shift, as diffusers' Wan examples set
    ``flow_shift`` in the scheduler's config.
    """
    if shift and not model.adapter.flow_matching:
        raise NodeError(
            f"shift is for flow-matching models (Wan, LTX-Video, …); {model.family} is a noise-prediction model, "
            "set shift to 0"
        )
    scheduler = _scheduler(name, model)
    return _with_shift(scheduler, name, shift) if shift else scheduler


def _with_shift(scheduler: Any, name: str, shift: float) -> Any:
    config = dict(scheduler.config)
    if "flow_shift" in config:  # UniPC/DPM-Solver in their flow-sigma mode
        config.update(flow_shift=float(shift), use_flow_sigmas=True)
    elif "shift" in config:  # FlowMatchEulerDiscrete: a fixed shift instead of a resolution-dependent one
        config.update(shift=float(shift), use_dynamic_shifting=False)
    else:
        raise NodeError(f"shift: scheduler {name} has no timestep shift; set shift to 0 or choose another scheduler")
    return type(scheduler).from_config(config)


def _scheduler(name: str, model: Any) -> Any:
    import diffusers

    base = model.pipeline.scheduler
    if name == "default":
        return type(base).from_config(base.config)
    allowed = FLOW_SCHEDULERS if model.adapter.flow_matching else NOISE_SCHEDULERS
    if name not in allowed:
        kind = "a flow-matching" if model.adapter.flow_matching else "a noise-prediction"
        raise NodeError(
            f"scheduler {name} does not fit {model.family} ({kind} model); use default or one of {', '.join(allowed)}"
        )
    cls = getattr(diffusers, name + "Scheduler", None)
    if cls is None:
        raise NodeError(f"scheduler {name} is not available in this diffusers version")
    config = dict(base.config)
    if model.adapter.flow_matching and name != "FlowMatchEulerDiscrete" and "flow_shift" not in config:
        # Multistep solvers run flow models through their flow-sigma mode.
        config.update(use_flow_sigmas=True, prediction_type="flow_prediction", flow_shift=config.get("shift", 1.0))
    return cls.from_config(config)
