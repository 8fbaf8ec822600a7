"""How many CPU threads a run on the CPU gives torch (issue 11).

torch's OpenMP threads spin for a while after each parallel region, waiting for the next one.
On an idle machine that is what makes a small model fast: the starter model's sampler runs
thousands of regions of a few microseconds each. On a shared machine it is a collapse: when
another process holds one of our cores, every region waits for a time slice while our other
thread spins, and the sampler went from 0.6 s to 43 s beside a two-thread torch process.

The lever is the thread count, chosen once per run: the cores this process may use (never more
than torch's own default) less the cores other processes keep busy right now, or the count the
user set (``cpu_threads`` in the settings, or ``STUDIO_CPU_THREADS``). A run on one thread
enters no parallel region, so it has nothing to spin on. The OpenMP wait policy is left as it
is: sleeping instead of spinning (``OMP_WAIT_POLICY=PASSIVE``) survives load that arrives in the
middle of a run, but made the idle starter sampler about 30% slower, so it stays the user's
choice (set it in the environment before starting studio).

A count that follows the load must not change the picture: a creator expects the same graph and
seed to give the same video. MKL's matrix products split their sums by thread count, so the
starter graph rendered on 1 and on 2 threads differed by 0.44 per pixel on average (20 at worst)
and every file had another md5. Importing this module therefore asks MKL for its conditional
numerical reproducibility in strict mode (``MKL_CBWR=AUTO,STRICT``, read when MKL first computes):
its products then give the same bits on any thread count, and the starter graph gives the same
file on 1 and 2 threads, at about the same speed. A value the user set is kept. The other CPU
ops the built-in nodes use (oneDNN convolutions, torch's row-wise norms and softmax, OpenCV)
gave identical frames already. Not every path is covered: a tiny SD model with a LoRA (peft's
extra low-rank products) gave one value of 3,072 off by 1 between 1 and 2 threads, and a custom
node with a whole-tensor float reduction can vary too; a fixed ``cpu_threads`` setting rules it out.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("studio.engine.threads")

ENV_VAR = "STUDIO_CPU_THREADS"
LOAD_SAMPLES = 8  # runnable-task counts read ~1 ms apart: under 10 ms, once per run
LOAD_SAMPLE_GAP = 0.001
# A core counts as free while other processes use at most this much of it: a spinning OpenMP
# thread that loses its core even now and then costs far more than one thread fewer would.
BUSY_TOLERANCE = 0.25

_torch_default_threads: int | None = None  # what torch chose by itself, read before we first change it

# Before torch first computes: the engine imports this module before it runs anything.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")


def setting_from_environment(environ: Mapping[str, str] | None = None) -> int:
    """``STUDIO_CPU_THREADS`` as a thread count; 0 when unset, empty or 0 (automatic)."""
    environ = os.environ if environ is None else environ
    text = environ.get(ENV_VAR, "").strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{ENV_VAR} must be a whole number of threads, 0 for automatic, got {text!r}")
    return value


def user_setting(setting: int | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The user's thread count: ``setting`` when above 0, else ``STUDIO_CPU_THREADS``; 0 is automatic."""
    if setting is not None and setting < 0:
        raise ValueError(f"cpu_threads must be 0 (automatic) or a number of threads, got {setting}")
    return setting or setting_from_environment(environ)


def choose_cpu_threads(*, cores: int, busy_elsewhere: float | None, setting: int = 0) -> int:
    """The intra-op thread count for a run: a pure function of the machine and the user's setting.

    ``cores`` is how many threads this process may usefully run; ``busy_elsewhere`` how many
    cores other processes keep busy right now, or None where that is unknown (then every core
    counts as free); ``setting`` the user's count, 0 for automatic. A set count always wins.
    Otherwise one thread per free core, and always at least one.
    """
    if setting < 0:
        raise ValueError(f"cpu_threads must be 0 (automatic) or a number of threads, got {setting}")
    if setting:
        return setting
    cores = max(1, cores)
    if busy_elsewhere is None:
        return cores
    taken = max(0, math.ceil(busy_elsewhere - BUSY_TOLERANCE))
    return max(1, cores - taken)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def busy_cores_elsewhere(
    samples: int = LOAD_SAMPLES,
    gap: float = LOAD_SAMPLE_GAP,
    path: str = "/proc/loadavg",
    own_threads: str = "/proc/self/task",
) -> float | None:
    """How many tasks of other processes are runnable right now, averaged over a few ms.

    Reads the kernel's count of runnable tasks (``/proc/loadavg``, Linux): unlike the one-minute
    load average it sees a process that started a second ago, and unlike CPU time sampled from
    ``/proc/stat`` it needs no 100 ms window at 100 ticks a second. This process's own runnable
    threads are not counted: the one reading, and OpenMP threads still spinning after the last
    run. None where the count is not available (macOS, Windows): there every core counts as free.
    """
    counts = []
    for index in range(samples):
        try:
            with open(path, encoding="ascii") as file:
                running = int(file.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return None
        counts.append(running - max(1, _runnable_threads(own_threads)))
        if index + 1 < samples:
            time.sleep(gap)
    return max(0.0, sum(counts) / len(counts))


def _runnable_threads(task_dir: str) -> int:
    """How many threads of this process are running or ready to run (state R); 0 if unknown."""
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return 0
    count = 0
    for tid in tids:
        try:
            with open(os.path.join(task_dir, tid, "stat"), "rb") as file:
                stat = file.read()
        except OSError:
            continue  # the thread ended meanwhile
        # "pid (name) S ...": the name may hold spaces and parentheses, the state follows the last ")".
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"R":
            count += 1
    return count


def apply_cpu_threads(setting: int | None = None) -> int:
    """Choose the thread count for a CPU run and give it to torch; returns it.

    ``setting`` is as for :func:`user_setting`; when it comes to 0 the count follows the cores
    free right now. Call it from the thread that runs the nodes: with OpenMP, torch applies a
    new count to the calling thread's parallel regions.
    """
    global _torch_default_threads
    wanted = user_setting(setting)
    import torch

    if _torch_default_threads is None:
        _torch_default_threads = torch.get_num_threads()
    usable = usable_cores()
    cores = min(_torch_default_threads, usable)
    busy = None if wanted else busy_cores_elsewhere()
    if busy is not None:
        # The count is the whole machine's: with fewer CPUs of our own (taskset, a cpuset
        # container), only our share of the other tasks is in our way.
        busy *= usable / max(usable, os.cpu_count() or usable)
    threads = choose_cpu_threads(cores=cores, busy_elsewhere=busy, setting=wanted)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    log.debug("CPU threads: %d (cores %d, busy elsewhere %s, setting %d)", threads, cores, busy, wanted)
    return threads


class RunThreads:
    """Sets the CPU thread count once per run, in the thread that runs the nodes.

    When a node first asks for the device (it is about to use torch), or before the first node
    that computes once torch is loaded and the device is known to be the CPU: a rerun whose
    model is cached never asks for the device. ``known`` is the device as far as the engine
    knows it without resolving it (its preference until then), so a run whose nodes never need
    a device resolves none. GPU runs are left alone.
    """

    def __init__(self, device: Callable[[], str], setting: int | None = None, *, known: str | None = None) -> None:
        self._resolve = device
        self._setting = user_setting(setting)  # a bad value fails the run before any node starts
        self._known = known
        self._applied = False

    def node_starting(self) -> None:
        """Called before each node computes; acts once, as soon as torch is loaded."""
        if not self._applied and self._known == "cpu" and "torch" in sys.modules:
            self._apply_once("cpu")

    def device(self) -> str:
        """The run's device (what :class:`RunContext` asks for), setting the threads first."""
        device = self._resolve()
        self._apply_once(device)
        return device

    def _apply_once(self, device: str) -> None:
        if not self._applied:
            self._applied = True
            if device == "cpu":
                apply_cpu_threads(self._setting)
