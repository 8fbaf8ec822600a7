"""Keep Python's full garbage collections out of the first run's imports, and out of later runs.

A cold run imports torch, diffusers and transformers (half a million objects) in the render
thread. Each full (generation 2) collection walks every tracked object while holding the GIL,
so as the heap grew during those imports the window's event loop stopped for 70-350 ms at a
time, eight times in one starter-graph run (measured with ``gc.callbacks``). While a node runs
before those libraries are loaded, automatic collection is paused; after a node that imported
many modules, what it imported is frozen (``gc.freeze``: the libraries' modules, classes and
functions live as long as the process) so no later collection walks it again, then collection
resumes. A warm run, with the libraries loaded, is left alone.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

HEAVY = ("torch", "diffusers", "transformers")
FREEZE_AFTER_MODULES = 50  # a node that imported at least this many modules has its objects frozen


def libraries_loaded() -> bool:
    return all(name in sys.modules for name in HEAVY)


@contextmanager
def quiet_imports() -> Iterator[None]:
    """Around a node's compute: pause automatic collection while the heavy libraries may still be
    imported, and freeze what the node imported once it is done."""
    if libraries_loaded() or not gc.isenabled():
        yield
        return
    modules = len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) - modules >= FREEZE_AFTER_MODULES:
            gc.freeze()
        gc.enable()
