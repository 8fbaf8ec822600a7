"""Load torch's shared libraries with the GIL released, before ``import torch`` does it with the GIL held.

Importing torch loads a few hundred megabytes of shared libraries (``libtorch_cpu``, and on CUDA
builds ``libtorch_cuda`` with the CUDA libraries it needs). Python's import machinery and
``ctypes.CDLL`` call ``dlopen`` holding the GIL, so while the render thread imports torch the
window's event loop stood still for 0.3-0.6 s at a time on a shared 2-core machine. A ctypes
*call* releases the GIL, so calling libc's ``dlopen`` through ctypes does the same loading while
the window keeps painting; the ``import torch`` that follows finds the libraries loaded and only
runs Python. Written by hand because neither torch nor Python offers a GIL-free import.

Same flags as torch: ``libtorch_global_deps`` globally (torch loads it with ``RTLD_GLOBAL``), the
rest locally (as ``torch._C``'s own dependencies would be). Skipped where ``LD_LIBRARY_PATH`` is
set: there torch preloads its CUDA wheels' libraries first, so that an older copy on that path
does not win the lookup (pytorch issues 138460, 145580), and loading ``libtorch_cpu`` before it
would undo that. Linux only; elsewhere, and whenever anything fails, torch loads them as usual.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.util import find_spec

log = logging.getLogger("studio.engine.native_preload")

# In the order torch's import loads them.
GLOBAL_LIBRARIES = ("libtorch_global_deps.so",)
LOCAL_LIBRARIES = ("libc10.so", "libtorch_cpu.so", "libtorch.so", "libtorch_python.so")

_done = False


def torch_library_dir() -> str | None:
    """torch's ``lib`` folder, found without importing torch; None where torch is not installed."""
    try:
        spec = find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "lib")


def preload_torch_libraries() -> bool:
    """Load torch's shared libraries GIL-free when torch is not imported yet; True when it did.

    Call it from a background thread just before that thread imports torch (once per process)."""
    global _done
    if _done or "torch" in sys.modules or not sys.platform.startswith("linux") or os.environ.get("LD_LIBRARY_PATH"):
        return False
    _done = True
    folder = torch_library_dir()
    if folder is None or not os.path.isfile(os.path.join(folder, "libtorch_cpu.so")):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        dlopen = libc.dlopen
    except (OSError, AttributeError):
        return False
    dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
    for names, scope in ((GLOBAL_LIBRARIES, os.RTLD_GLOBAL), (LOCAL_LIBRARIES, os.RTLD_LOCAL)):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not dlopen(os.fsencode(path), os.RTLD_NOW | scope):
                log.debug("preloading %s failed; torch will load it itself", name)
                return False  # the rest depends on it: let torch's own import report any problem
    return True
