"""The core stays free of Qt and heavy imports, so it runs headless and starts fast."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_without_qt_or_torch():
    code = (
        "import sys, studio.graph, studio.engine, studio.media.types, studio.cli, nodes;"
        "from studio.composition import default_registry; default_registry(plugins=False);"
        "heavy = {'PySide6', 'torch', 'diffusers', 'transformers', 'cv2', 'av'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
