"""Running a hostile case (tests/hostile_corpus.py) in a subprocess under an address-space limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hostile_corpus import MEDIA_BUDGET, ROOT, Case

# ---- running a case under limits -------------------------------------------------------------
# Runs the command under RLIMIT_AS in a session of its own, and reports its exit code, seconds and
# peak RSS (ru_maxrss of RUSAGE_CHILDREN: the largest of this one child and any process it waited for).
WRAPPER = """
import json, os, resource, signal, subprocess, sys, time
limit, timeout, report, command = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
def confine():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
started = time.perf_counter()
child = subprocess.Popen(command, preexec_fn=confine, start_new_session=True)
try:
    code = child.wait(timeout)
except subprocess.TimeoutExpired:
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    code = None
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
with open(report, "w") as file:
    json.dump({"code": code, "seconds": seconds, "peak_mb": peak}, file)
"""


@dataclass
class Outcome:
    """What one run of a case did: ``code`` is None when it ran past its time and was killed."""

    code: int | None
    stdout: str
    stderr: str
    raw: bytes
    seconds: float
    peak_mb: float


def environment(home: Path) -> dict[str, str]:
    """The environment of a case's process: offline, a home of its own, a small media budget."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return {
        **keep,
        "STUDIO_HOME": str(home),
        "STUDIO_MEDIA_BUDGET_BYTES": str(MEDIA_BUDGET),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        "PYTHONIOENCODING": "utf-8",
        "LC_ALL": "C.UTF-8",
    }


def run_case(case: Case, via: str, case_dir: Path, home: Path, *, slack: float = 3.0) -> Outcome:
    """Run ``case`` ``via`` "cli" or "api" in ``case_dir`` (its output folder ``case_dir / f"out-{via}"``).

    The process gets ``slack`` times the case's seconds before it is killed, so a run that is
    merely slow still reports its figures.
    """
    command = case.command(via, case_dir, case_dir / f"out-{via}")
    return run_limited(command, case_dir, environment(home), case.address_space, case.seconds * slack)


def run_limited(command: list[str], cwd: Path, env: dict[str, str], address_space: int, timeout: float) -> Outcome:
    """Run ``command`` under RLIMIT_AS ``address_space``, killed after ``timeout`` seconds."""
    with tempfile.TemporaryDirectory(prefix="hostile-report-") as scratch:
        report = Path(scratch) / "report.json"
        done = subprocess.run(
            [sys.executable, "-c", WRAPPER, str(address_space), str(timeout), str(report), *command],
            cwd=cwd,
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout + 60,
        )
        figures = json.loads(report.read_text())
    return Outcome(
        code=figures["code"],
        stdout=done.stdout.decode("utf-8", "backslashreplace"),
        stderr=done.stderr.decode("utf-8", "backslashreplace"),
        raw=done.stdout + done.stderr,
        seconds=figures["seconds"],
        peak_mb=figures["peak_mb"],
    )
