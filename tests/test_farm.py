"""``studio batch --cluster``: the same graphs on a Ray cluster of two CPU workers on loopback.

One cluster serves the module (starting Ray takes seconds); every test is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from studio.batch import BatchPrinter  # noqa: E402
from studio.cli import main  # noqa: E402
from studio.composition import default_registry  # noqa: E402
from studio.engine import CancelToken  # noqa: E402
from studio.farm import Farm  # noqa: E402
from studio.graph import load_graph  # noqa: E402
from studio.media.video_io import read_embedded_graph_text, read_video  # noqa: E402
from studio.variations import build_jobs, parse_variations  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PATTERN = ROOT / "resources/graphs/test-pattern.graph.json"
STARTER = ROOT / "resources/graphs/starter.graph.json"

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A two-CPU Ray head on loopback (``ray start --head --block``, stopped by its process id);
    this process is connected as a driver. The workers inherit this
    process's STUDIO_HOME and PYTHONPATH."""
    port = _free_port()
    log = tmp_path_factory.mktemp("ray") / "head.log"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Token authentication is read once per process, when Ray is imported: a driver in this
        # process could not take it up now. The cluster listens on loopback for this module only.
        env.setenv("RAY_AUTH_MODE", "disabled")
        with open(log, "wb") as output:
            head = subprocess.Popen(
                [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}"]
                + ["--node-ip-address=127.0.0.1", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false"]
                + ["--disable-usage-stats"],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            address = f"127.0.0.1:{port}"
            _wait_for_port(port, head, log)
            ray.init(address=address, log_to_driver=False)
            yield address
        finally:
            ray.shutdown()
            head.terminate()
            try:
                head.wait(60)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, head: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert head.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the Ray head did not start: {log.read_text(errors='replace')[-3000:]}")


class Recorder(BatchPrinter):
    """A batch printer that keeps the events, and may act on one as it arrives."""

    def __init__(self, total: int, on_event=None) -> None:
        super().__init__(as_json=True, total=total)
        self.events: list[dict] = []
        self.on_event = on_event

    def line(self, data: dict, text: str) -> None:
        self._keep(data)

    def for_job(self, job: int):
        recorder = self

        class Printer:
            def __call__(self, event) -> None:
                recorder._keep({**event.to_json(), "job": job})

            def finish(self, report) -> None:
                pass

        return Printer()

    def _keep(self, data: dict) -> None:
        self.events.append(data)
        if self.on_event is not None:
            self.on_event(data)


def jobs_for(graph_path: Path, *vary: str) -> list:
    registry = default_registry()
    graph = load_graph(graph_path)
    return build_jobs(graph, registry, parse_variations(graph, registry, list(vary)))


def batch_json(capsys, *args: str) -> tuple[int, list[dict]]:
    code = main(["batch", *args, "--json"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines]


def videos(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def same_video(a: Path, b: Path) -> None:
    """The same job's video: the same graph embedded, the same frames (x264 may pick other
    encoding decisions under load, so pixels are compared, not bytes)."""
    assert read_embedded_graph_text(a) == read_embedded_graph_text(b)
    frames_a, _ = read_video(a)
    frames_b, _ = read_video(b)
    assert frames_a.array.shape == frames_b.array.shape
    difference = abs(frames_a.array.astype(int) - frames_b.array.astype(int)).mean()
    assert difference < 1.0


def test_a_cluster_batch_renders_the_files_a_local_batch_does(cluster, tmp_path):
    local, farm = tmp_path / "local", tmp_path / "farm"
    assert main(["batch", str(PATTERN), "--vary", "pattern.seed=1..4", "-o", str(local)]) == 0
    done = subprocess.run(  # a driver of its own, connecting as a user would
        [sys.executable, "-m", "studio.cli", "batch", str(PATTERN), "--vary", "pattern.seed=1..4"]
        + ["-o", str(farm), "--cluster", cluster, "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "batch_done" and summary["ok"] and summary["counts"]["ok"] == 4
    workers = {e["worker"] for e in events if e["event"] == "job_started"}
    assert len(workers) == 2  # both CPU slots worked
    assert all("job" in e for e in events[:-1])
    assert [p.name for p in videos(farm)] == [f"starter_0000{i}.mp4" for i in range(1, 5)]  # no partial file
    by_seed = {}
    for job in summary["jobs"]:
        (path,) = job["files"]
        assert Path(path).parent == farm
        by_seed[job["vary"]["pattern.seed"]] = Path(path)
    for seed, local_file in zip(range(1, 5), videos(local), strict=True):
        same_video(by_seed[seed], local_file)


def test_a_worker_killed_mid_job_has_its_job_retried(cluster, tmp_path):
    jobs = jobs_for(PATTERN, "pattern.frames=600", "pattern.seed=1,2")
    farm = Farm(max_workers=2)
    pids = dict(zip(farm.names, farm.worker_pids(), strict=True))
    killed = []

    def kill_once(event: dict) -> None:
        if not killed and event["event"] == "progress" and event["job"] == 1:
            worker = next(e["worker"] for e in recorder.events if e["event"] == "job_started" and e["job"] == 1)
            os.kill(pids[worker], 9)
            killed.append(worker)

    recorder = Recorder(len(jobs), kill_once)
    try:
        summary = farm.run(jobs, default_registry(), tmp_path, recorder, CancelToken())
    finally:
        farm.close()
    assert killed
    assert summary.ok, summary.to_json()
    first = summary.results[0]
    assert first.retries == 1
    retried = [e for e in recorder.events if e["event"] == "job_retried"]
    assert len(retried) == 1 and retried[0]["job"] == 1 and killed[0] in retried[0]["reason"]
    assert len(videos(tmp_path)) == 2  # one file per job: the killed attempt left nothing


def test_cancelling_a_cluster_batch_stops_its_jobs_and_leaves_no_file(cluster, tmp_path):
    jobs = jobs_for(PATTERN, "pattern.frames=2000", "pattern.seed=1..4")
    token = CancelToken()

    def cancel_on_progress(event: dict) -> None:
        if event["event"] == "progress" and event["done"] > 1:
            token.cancel()

    recorder = Recorder(len(jobs), cancel_on_progress)
    farm = Farm(max_workers=2)
    try:
        summary = farm.run(jobs, default_registry(), tmp_path, recorder, token)
    finally:
        farm.close()
    assert not summary.ok and summary.cancelled
    assert {r.status for r in summary.results} == {"cancelled"}
    started = {e["job"] for e in recorder.events if e["event"] == "job_started"}
    done = [e for e in recorder.events if e["event"] == "done"]
    assert started == {1, 2}  # one job a worker; the others never started
    assert sorted(e["job"] for e in done) == [1, 2] and all(e["cancelled"] for e in done)
    assert list(tmp_path.iterdir()) == []


def test_a_worker_refuses_a_hostile_graph_and_names_a_missing_model(cluster, tmp_path):
    farm = Farm(max_workers=1)
    try:
        answer = ray.get(
            farm.workers[0].render.remote(1, '{"format": "studio.graph", "nodes": "x"}', farm.events, None)
        )
        assert "refused" in answer["error"] and farm.names[0] in answer["error"]
        recorder = Recorder(1)
        jobs = jobs_for(STARTER, "model.path=no-such-model.safetensors")
        summary = farm.run(jobs, default_registry(), tmp_path, recorder, CancelToken())
    finally:
        farm.close()
    (result,) = summary.results
    assert result.status == "failed"
    assert farm.names[0] in result.error and "no-such-model.safetensors" in result.error
    failed = [e for e in recorder.events if e["event"] == "node_failed"]
    assert failed and failed[0]["node_id"] == "model" and farm.names[0] in failed[0]["message"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.ml
def test_starter_jobs_keep_their_model_loaded_on_each_worker(cluster, tmp_path, capsys):
    cheap = ["sampler.steps=2", "upscale.scale=1", "interpolate.multiplier=2", "interpolate.method=blend"]
    vary = [arg for value in [*cheap, "sampler.seed=1..4"] for arg in ("--vary", value)]
    code, events = batch_json(capsys, str(STARTER), *vary, "-o", str(tmp_path), "--cluster", cluster)
    assert code == 0, events[-1]
    loads = [e for e in events if e["event"] == "node_started" and e["node_id"] == "model"]
    assert len(loads) <= 2  # once per worker; the other jobs found it loaded
    assert len(videos(tmp_path)) == 4


def test_with_a_shared_folder_workers_write_the_files_there(cluster, tmp_path):
    jobs = jobs_for(PATTERN, "pattern.frames=4", "pattern.seed=1,2")
    farm = Farm(max_workers=2)
    try:
        summary = farm.run(jobs, default_registry(), tmp_path, Recorder(len(jobs)), CancelToken(), shared=True)
    finally:
        farm.close()
    assert summary.ok
    files = sorted(f for r in summary.results for f in r.files)
    assert files == videos(tmp_path) and [f.name for f in files] == ["starter_00001.mp4", "starter_00002.mp4"]


def test_the_render_queue_spreads_its_jobs_over_the_cluster(cluster, tmp_path):
    """The window's queue on the cluster (ClusterRunner behind the engine's interface): jobs on both
    workers at once, each named, progress relayed, files in the output folder; a cancel stops one."""
    from studio.engine import RenderQueue
    from studio.farm import ClusterRunner

    registry = default_registry()
    seen: list[tuple[int, str]] = []
    runner = ClusterRunner(cluster, registry, tmp_path)
    queue = RenderQueue(runner, lambda job, event: event and seen.append((job.id, event.kind)))
    try:
        graph = load_graph(PATTERN)
        graph.set_param("pattern", "frames", 8)
        jobs = []
        for seed in (1, 2, 3):
            graph.set_param("pattern", "seed", seed)
            jobs.append(queue.submit(graph, title=f"seed {seed}", output_dir=tmp_path))
        graph.set_param("pattern", "frames", 2000)
        long_job = queue.submit(graph, title="long", output_dir=tmp_path)
        deadline = time.monotonic() + 180
        while (long_job.id, "progress") not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
        queue.cancel(long_job.id)
        assert queue.wait_idle(180)
        # "Unload models" and "Clear cache" in the window reach every worker.
        import ray

        def kept() -> list[int]:
            return [size["outputs"] for size in ray.get([w.cache_sizes.remote() for w in runner.farm.workers])]

        assert all(kept())  # both workers ran jobs and keep their outputs
        assert runner.unload_models() == []  # the pattern graph loads no model
        runner.clear_outputs()
        assert kept() == [0, 0]
    finally:
        queue.shutdown(30)
    assert [j.status for j in jobs] == ["done"] * 3, [j.error for j in jobs]
    assert long_job.status == "cancelled"
    assert len({j.worker for j in jobs}) == 2 and all("/cpu#" in j.worker for j in jobs)
    assert {(j.id, "worker_assigned") for j in jobs} <= set(seen) and (jobs[0].id, "progress") in seen
    files = sorted(f for j in jobs for f in j.report.files())
    assert files == videos(tmp_path) and len(files) == 3  # the cancelled job left no file
