"""The render thread's first imports: torch's libraries load GIL-free, no full collections meanwhile."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from studio.engine import gc_imports
from studio.engine.native_preload import preload_torch_libraries


def test_collection_is_paused_during_a_cold_node_and_resumes_after(monkeypatch):
    monkeypatch.setattr(gc_imports, "libraries_loaded", lambda: False)
    assert gc.isenabled()
    with gc_imports.quiet_imports():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_resumes_when_the_node_fails(monkeypatch):
    monkeypatch.setattr(gc_imports, "libraries_loaded", lambda: False)
    try:
        with gc_imports.quiet_imports():
            raise RuntimeError("node failed")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_a_warm_run_leaves_collection_alone(monkeypatch):
    monkeypatch.setattr(gc_imports, "libraries_loaded", lambda: True)
    with gc_imports.quiet_imports():
        assert gc.isenabled()


def test_preloading_is_a_no_op_once_torch_is_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", sys.modules.get("torch") or object())
    assert preload_torch_libraries() is False


def test_torch_imports_and_computes_after_its_libraries_were_preloaded():
    code = (
        "import sys\n"
        "from studio.engine.native_preload import preload_torch_libraries\n"
        "preloaded = preload_torch_libraries()\n"
        "import torch\n"
        "print(preloaded, float((torch.ones(3) * 2).sum()))\n"
    )
    env_free = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env_free, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    preloaded, total = result.stdout.split()
    assert float(total) == 6.0
    assert preloaded == ("True" if sys.platform.startswith("linux") else "False")
