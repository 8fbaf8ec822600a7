"""The hostile-input corpus (issue 12): every case in tests/hostile_corpus.py, run by the CLI and by the
Python API in a subprocess under an address-space limit and a timeout.

Each run must exit as the case says with exactly one line that explains (matching the case's pattern;
the CLI's progress lines aside), no traceback, no raw control character or forged line in any output,
nothing written outside its output folder and no partial file left in it, and stay within the case's
seconds and peak RSS. The domain tests (test_media_hostile, test_timeline_hostile, test_families,
test_graph_walk, test_cli…) hold the detailed assertions; this file holds the corpus together.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from hostile_cases import CASES, vias, write_case
from hostile_corpus import FORGED, Case, MiB
from hostile_runner import Outcome, run_case, run_limited

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced on Linux only")

# What `studio run` prints around the one line that explains: progress (ProgressPrinter) and the
# summary that repeats the failure's reason (studio.run_console).
PROGRESS = re.compile(
    r"^(running |done    |cached  |skipped |run failed after \d|cancelled after \d|        \S)"
)  # last: status
# Control characters a terminal acts on, bidi overrides and line separators: never raw in any output.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_LINE = 1000  # characters: one line that explains, not a dump

# Cases that fail today, each with what happens; strict, so a fix makes them fail until removed here.
RING_LINES = (
    "validation reports one problem per node on a ring: {n} error lines on stderr, the first listing the "
    "whole ring in about {size} characters"
)
RING_LINE = "GraphInvalid's first problem lists the whole ring: one line of about {size} characters"
KNOWN_FAILURES: dict[tuple[str, str], str] = {}  # (case, via) -> why; none left


def parameters():
    for case in CASES:
        for via in vias(case):
            marks = [pytest.mark.ml] if case.torch else []
            if (case.name, via) in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[case.name, via]))
            yield pytest.param(case, via, id=f"{case.name}-{via}", marks=marks)


class Corpus:
    """The corpus folder: each case written on first use, and shared by its CLI and API runs."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root, self.home = root, home
        self.folders: dict[str, Path] = {}

    def folder(self, case: Case) -> Path:
        if case.name not in self.folders:
            self.folders[case.name] = write_case(case, self.root)
        return self.folders[case.name]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return Corpus(tmp_path_factory.mktemp("corpus"), tmp_path_factory.mktemp("home"))


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every entry under ``root`` but ``skip``: path -> (size, modification time) of files, links not
    followed; folders count by name only (creating ``skip`` changes its parent's time)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        found.update((os.path.join(folder, name), (0, 0)) for name in dirs)
        for name in files:
            info = os.lstat(Path(folder, name))
            found[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    return found


def problems_with(case: Case, via: str, outcome: Outcome) -> list[str]:
    """What is wrong with one run of ``case``, as short sentences; empty when it did as it should."""
    problems = []
    code, pattern = (case.exit_code, case.message) if via == "cli" else (case.api_exit, case.api_message)
    if outcome.code is None:
        return [f"ran past {outcome.seconds:.0f} s and was killed"]
    if outcome.code != code:
        signal = f" (killed by signal {-outcome.code})" if outcome.code < 0 else ""
        problems.append(f"exit code {outcome.code}{signal}, expected {code}")
    for name, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if "Traceback" in text:
            problems.append(f"a traceback on {name}, ending {text.strip().splitlines()[-1][:300]!r}")
        if (unsafe := UNSAFE.search(text)) is not None:
            problems.append(f"a raw control character {unsafe.group()!r} on {name}")
        if (forged := FORGED.search(text)) is not None:
            problems.append(f"a forged line on {name}: {forged.group()!r}")
    if b"\x1b" in outcome.raw:
        problems.append("a raw escape byte (\\x1b) in the output")
    stream = case.cli_stream if via == "cli" else "stderr"
    running = via == "cli" and case.cli[0] == "run"  # only `studio run` prints progress
    explained = [line for line in outcome.stderr.splitlines() if not (running and PROGRESS.match(line))]
    if stream == "stdout":
        if explained:
            problems.append(f"stderr should hold progress lines only, but has {explained[0][:200]!r}")
        explained = outcome.stdout.splitlines()
    if len(explained) != 1:
        shown = "; ".join(repr(line[:200]) for line in explained[:3])
        problems.append(f"{len(explained)} lines on {stream} instead of one: {shown}")
    elif len(explained[0]) > MAX_LINE:
        problems.append(f"the line on {stream} is {len(explained[0]):,} characters long, more than {MAX_LINE:,}")
    if explained and not re.search(pattern, explained[0]):
        problems.append(f"{explained[0][:300]!r} does not match {pattern!r}")
    if outcome.seconds > case.seconds:
        problems.append(f"took {outcome.seconds:.1f} s, more than the {case.seconds:.0f} s allowed")
    if outcome.peak_mb > case.peak_mb:
        problems.append(f"peak RSS {outcome.peak_mb:.0f} MB, more than the {case.peak_mb} MB allowed")
    return problems


@pytest.mark.parametrize(("case", "via"), list(parameters()))
def test_hostile_case(corpus, case, via):
    case_dir = corpus.folder(case)
    out = case_dir / f"out-{via}"
    before = snapshot(corpus.root, skip=out)
    outcome = run_case(case, via, case_dir, corpus.home)
    after = snapshot(corpus.root, skip=out)
    problems = problems_with(case, via, outcome)
    changed = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    if changed:
        problems.append(f"wrote outside its output folder: {', '.join(map(ascii, changed[:5]))}")
    partials = [p.name for p in out.glob(".*.partial.*")] if out.is_dir() else []
    if partials:
        problems.append(f"left partial files in its output folder: {', '.join(map(ascii, partials))}")
    assert not problems, f"{case.name} via {via}: " + "; ".join(problems)


def test_the_harness_enforces_its_memory_limit_and_timeout_and_measures_peak_memory(tmp_path):
    grow = [sys.executable, "-c", "block = bytearray(300 * 1024**2); block[::4096] = b'x' * len(block[::4096])"]
    assert run_limited(grow, tmp_path, dict(os.environ), 200 * MiB, 30).code == 1  # MemoryError
    fits = run_limited(grow, tmp_path, dict(os.environ), 1024 * MiB, 30)
    assert fits.code == 0 and 300 < fits.peak_mb < 400, f"exit {fits.code}, peak {fits.peak_mb:.0f} MB"
    sleep = run_limited(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, dict(os.environ), 1024 * MiB, 1
    )
    assert sleep.code is None and sleep.seconds < 10
