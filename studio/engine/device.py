"""Device and precision choice: CUDA, then Apple MPS, then the CPU (DESIGN.md §4)."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(preference: str = "auto") -> str:
    """Turn ``auto|cpu|cuda|mps`` into the device a run uses; a missing device is an error."""
    if preference not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {preference!r}")
    from studio.engine.gc_imports import quiet_imports
    from studio.engine.native_preload import preload_torch_libraries

    preload_torch_libraries()  # a node asking for the device is about to use torch: load it GIL-free
    if preference == "cpu":
        return "cpu"
    with quiet_imports():  # also when the estimate resolves the device, outside any node
        import torch

    if preference in ("auto", "cuda") and torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if preference in ("auto", "mps") and mps is not None and mps.is_available():
        return "mps"
    if preference == "auto":
        return "cpu"
    raise ValueError(f"device {preference!r} is not available on this machine; use --device cpu or auto")


def device_memory(device: str) -> int | None:
    """Bytes of memory on a GPU device (None for the CPU, or when the backend does not say)."""
    if device != "cuda":
        return None  # MPS shares the machine's RAM: its models count in the RAM budget
    import torch

    return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)


def release_device_memory(device: str) -> None:
    """Hand freed GPU memory back (after models were dropped), where torch holds it in a cache."""
    import gc

    gc.collect()
    if device == "cuda":
        import torch

        torch.cuda.empty_cache()
    elif device == "mps":
        import torch

        torch.mps.empty_cache()


def default_dtype(device: str) -> str:
    """Half precision on GPUs (bf16 where CUDA supports it), float32 on the CPU."""
    if device == "cuda":
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


# CUDA errors after which the process's CUDA context is unusable: every later kernel fails too,
# until the process ends (CUDA's "sticky" errors; out of memory is not one of them).
STICKY_GPU_ERRORS = (
    "illegal memory access",
    "device-side assert",
    "unspecified launch failure",
    "misaligned address",
    "illegal instruction",
    "uncorrectable ecc error",
    "hardware stack error",
)


def sticky_gpu_error(text: str) -> bool:
    """Whether ``text`` (an error message) reports a GPU fault that only a new process recovers from."""
    lowered = text.lower()
    return any(pattern in lowered for pattern in STICKY_GPU_ERRORS)
