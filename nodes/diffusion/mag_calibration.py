"""MagCache's magnitude ratios, measured on the model during one uncached run.

MagCache skips a step when the product of the per-step ratios (how much the blocks' residual grows
from one step to the next) stays near one; the ratios belong to a model and its schedule. diffusers'
calibration mode prints them instead of returning them, so this measures them the same way
(``MagCacheBlockHook._perform_calibration_step``: the mean over tokens of ‖residual_t‖ / ‖residual_t-1‖)
with plain forward hooks, per denoiser and per call position (cond, uncond, windows), then averages the
call positions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def calibrated_ratios(denoisers: list[Any], calls: Any, blocks_of: Callable[[Any], list[Any]]) -> Iterator[list]:
    """Hooks that measure the ratios while the ``with`` body samples; the yielded list holds one list of
    ratios per denoiser once the body has finished without error."""
    from diffusers.hooks._helpers import TransformerBlockRegistry

    measured: list[list[float]] = []
    ratios: dict[tuple[int, str], list[float]] = {}
    previous: dict[tuple[int, str], Any] = {}
    head_input: dict[int, Any] = {}
    handles = []

    def count_call(_module: Any, args: tuple, kwargs: dict) -> None:
        calls.called(args, kwargs)

    for index, denoiser in enumerate(denoisers):
        blocks = blocks_of(denoiser)
        layout = TransformerBlockRegistry.get(type(blocks[0]))

        def before_head(_module: Any, args: tuple, kwargs: dict, index: int = index, layout: Any = layout) -> None:
            head_input[index] = layout._get_parameter_from_args_kwargs(layout.hidden_states_argument_name, args, kwargs)

        def after_tail(
            _module: Any, _args: tuple, _kwargs: dict, output: Any, index: int = index, layout: Any = layout
        ) -> None:
            import torch

            hidden = output[layout.return_hidden_states_index] if isinstance(output, tuple) else output
            residual = (hidden - head_input[index]).float()
            key = (index, calls.name)
            before = previous.get(key)
            if before is None:
                ratio = 1.0
            else:
                ratio = (torch.linalg.norm(residual, dim=-1) / (torch.linalg.norm(before, dim=-1) + 1e-8)).mean()
                ratio = float(ratio)
            ratios.setdefault(key, []).append(ratio)
            previous[key] = residual

        handles += [
            denoiser.register_forward_pre_hook(count_call, with_kwargs=True),
            blocks[0].register_forward_pre_hook(before_head, with_kwargs=True),
            blocks[-1].register_forward_hook(after_tail, with_kwargs=True),
        ]
    try:
        yield measured
    finally:
        for handle in handles:
            handle.remove()
    for index in range(len(denoisers)):
        lists = [values for (owner, _name), values in ratios.items() if owner == index]
        length = min((len(values) for values in lists), default=0)
        measured.append([sum(values[i] for values in lists) / len(lists) for i in range(length)] or [1.0])
