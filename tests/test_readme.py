"""README's Python example runs as written, and its second run takes the loader and the prompts from the cache.

It runs in a fresh process in a temporary working folder that links to the bundled resources,
as if from the repository root, so its output/ folder lands there and not in the repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATUSES = "README-TEST statuses: "
# Appended to the example: the statuses of its last run, ``report``.
PRINT_STATUSES = f"""
import json
print({STATUSES!r} + json.dumps({{node: result.status for node, result in report.nodes.items()}}))
"""


def readme_example() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```$", (ROOT / "README.md").read_text("utf-8"), re.S | re.M)
    assert len(blocks) == 1, f"README.md should hold one python block, found {len(blocks)}"
    return blocks[0]


@pytest.mark.ml
@pytest.mark.timeout(600)
def test_readme_python_example_runs_and_its_second_run_is_cached(tmp_path):
    (tmp_path / "resources").symlink_to(ROOT / "resources", target_is_directory=True)
    script = tmp_path / "readme_example.py"
    script.write_text(readme_example() + PRINT_STATUSES, "utf-8")
    env = {**os.environ, "STUDIO_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}

    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)

    assert done.returncode == 0, f"README's example failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    (line,) = [x for x in done.stdout.splitlines() if x.startswith(STATUSES)]
    statuses = json.loads(line.removeprefix(STATUSES))
    assert {statuses[n] for n in ("model", "prompt", "negative")} == {"cached"}, statuses
    assert statuses["sampler"] == "ran" and statuses["save"] == "ran", statuses
    assert len(list((tmp_path / "output").glob("*.mp4"))) == 2
