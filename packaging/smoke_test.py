"""Smoke-test a built one-folder bundle the way a user would meet it, away from the source tree.

    python packaging/smoke_test.py BUNDLE_DIR [--work DIR] [--source-python PY] [--without-cuda]

Runs with a clean environment (no PYTHONPATH, no virtual environment, a fresh HOME) from an empty
folder: ``studio nodes`` lists the catalogue, ``studio run`` renders the bundled starter graph to a
video that carries its graph, and the window opens on a virtual X screen (Xvfb), given that video,
and is screenshotted. Then it measures the first-window time against the source install
(``--source-python``, run with the same entry script) and, with ``--without-cuda``, what removing
every CUDA file would save and whether the app still runs. Prints and writes ``smoke.json``.
Only the standard library is used: any Python runs it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTRY = HERE / "pyinstaller" / "studio_main.py"
CUDA_PARTS = ("nvidia", "triton", "cuda", "cuda_bindings", "cuda_pathfinder")


class SmokeFailed(Exception):
    pass


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "STUDIO_HOME": str(home / "studio"),
        "LANG": "C.UTF-8",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    return {**env, **extra}


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SmokeFailed(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def links_outside(bundle: Path) -> list[str]:
    """Symbolic links that point out of the bundle: a bundle that needs them is not self-contained."""
    root = bundle.resolve()
    return [str(p) for p in bundle.rglob("*") if p.is_symlink() and not p.resolve().is_relative_to(root)]


def check_nodes(exe: Path, env: dict[str, str], cwd: Path) -> dict:
    out = run([str(exe), "nodes", "--json"], env, cwd).stdout
    types = {node["type"] for node in json.loads(out)["nodes"]}
    missing = {"LoadModel", "TextEncode", "Sampler", "VAEDecode", "SaveVideo"} - types
    if missing:
        raise SmokeFailed(f"studio nodes lacks {sorted(missing)}")
    return {"node_types": len(types)}


def check_render(exe: Path, env: dict[str, str], cwd: Path, out: Path) -> tuple[dict, Path]:
    start = time.perf_counter()
    args = [str(exe), "run", "resources/graphs/starter.graph.json", "-o", str(out), "--device", "cpu", "--json"]
    done = run(args, env, cwd)
    seconds = time.perf_counter() - start
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if not events or events[-1].get("event", events[-1].get("kind")) != "done":
        raise SmokeFailed(f"studio run printed no done event:\n{done.stdout[-2000:]}")
    videos = sorted(out.glob("*.mp4"))
    if len(videos) != 1 or videos[0].stat().st_size == 0:
        raise SmokeFailed(f"studio run wrote {videos} into {out}")
    run([str(exe), "validate", str(videos[0])], env, cwd)  # the video carries its graph
    if list(cwd.iterdir()):
        raise SmokeFailed(f"studio run wrote into the working folder: {list(cwd.iterdir())}")
    return {"render_seconds": round(seconds, 1), "video_bytes": videos[0].stat().st_size}, videos[0]


def check_render_process(exe: Path, env: dict[str, str], cwd: Path, out: Path) -> dict:
    """The window renders in a child process; in the bundle, spawn re-runs the frozen app for it."""
    out.mkdir(exist_ok=True)
    check_env = {**env, "STUDIO_RENDER_CHECK": "1"}
    done = run([str(exe), "resources/graphs/starter.graph.json", str(out)], check_env, cwd)
    facts = next((json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")), None)
    if not facts or not facts["ok"] or not facts["files"] or facts["child_pid"] in (None, facts["window_pid"]):
        raise SmokeFailed(f"the render process did not render the starter graph:\n{done.stdout[-2000:]}")
    return {"render_process": "ok"}


def screenshot(exe: Path, env: dict[str, str], cwd: Path, opened: Path, target: Path, wait: float = 40) -> dict:
    """Open the window on Xvfb with ``opened`` (a rendered video: its graph is restored) and take a shot."""
    if not shutil.which("xvfb-run") or not shutil.which("import"):
        return {"screenshot": "skipped: needs xvfb-run and ImageMagick's import"}
    env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
    wait_for_window = (
        "xdotool search --sync --onlyvisible --name 'Studio' >/dev/null; sleep 3"
        if shutil.which("xdotool")
        else f"sleep {wait}"
    )
    script = (
        f'"$0" "$1" > "$2.log" 2>&1 & app=$!; ( {wait_for_window} ) & waiter=$!; '
        f"for i in $(seq {int(wait * 2)}); do kill -0 $waiter 2>/dev/null || break; sleep 0.5; done; "
        'kill $waiter 2>/dev/null; import -window root "$2"; kill $app 2>/dev/null; wait $app 2>/dev/null; exit 0'
    )
    args = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", "bash", "-c", script, str(exe), str(opened), str(target)]
    subprocess.run(args, env=env, cwd=cwd, timeout=wait + 60, check=False)
    log = Path(f"{target}.log").read_text(errors="replace") if Path(f"{target}.log").exists() else ""
    if not target.is_file() or target.stat().st_size < 10_000:
        raise SmokeFailed(f"no screenshot of the window; app output:\n{log[-2000:]}")
    return {"screenshot": str(target), "screenshot_bytes": target.stat().st_size}


def check_install(bundle: Path, env: dict[str, str], cwd: Path) -> dict:
    """install.sh registers the command, desktop entry and MIME type for the user; --uninstall undoes it."""
    installer = bundle / "install.sh"
    if not installer.is_file():
        return {"install": "skipped: no install.sh (not a Linux bundle)"}
    home = Path(env["HOME"])
    data, command = home / ".local" / "share", home / ".local" / "bin" / "studio"
    run(["sh", str(installer)], env, cwd)
    desktop = (data / "applications" / "io.github.studio_app.Studio.desktop").read_text()
    if f'Exec="{bundle}/studio" %f' not in desktop:
        raise SmokeFailed(f"install.sh wrote a desktop entry that does not run this bundle:\n{desktop}")
    globs = data / "mime" / "globs2"
    if shutil.which("update-mime-database") and "application/x-studio-graph:*.graph.json" not in globs.read_text():
        raise SmokeFailed("install.sh did not register *.graph.json")
    version = run([str(command), "--version"], env, cwd).stdout.strip()
    run(["sh", str(installer), "--uninstall"], env, cwd)
    if command.exists() or (data / "applications" / "io.github.studio_app.Studio.desktop").exists():
        raise SmokeFailed("install.sh --uninstall left the command or the desktop entry")
    return {"install": f"registered and removed ({version})"}


def first_paint_seconds(commands: dict[str, tuple[list[str], dict[str, str]]], cwd: Path, runs: int) -> dict:
    """Median seconds from process start to the main window's first paint (offscreen), for each command.

    The commands take turns, run after run, so a busy machine slows them alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for attempt in range(runs + 1):  # the first round warms the file cache and is not counted
        for name, (command, env) in commands.items():
            env = {**env, "QT_QPA_PLATFORM": "offscreen", "STUDIO_FIRST_PAINT": "1"}
            start = time.perf_counter()
            proc = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - start
            proc.wait(60)
            if not line.startswith("{"):
                raise SmokeFailed(f"{command}: the window did not report its first paint")
            if json.loads(line).get("torch"):
                raise SmokeFailed(f"{command}: the window imported torch before its first paint")
            if attempt:
                times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def without_cuda(bundle: Path, exe: Path, env: dict[str, str], cwd: Path) -> dict:
    """Move every CUDA file out of the bundle, try a render, move them back."""
    internal = bundle / "_internal"
    moved = [p for p in internal.iterdir() if p.name in CUDA_PARTS]
    moved += [p for p in (internal / "torch" / "lib").glob("*") if "cuda" in p.name or "nvrtc" in p.name]
    aside = Path(tempfile.mkdtemp(dir=bundle.parent, prefix="cuda-aside-"))
    saved = sum(size_of(p) if p.is_dir() else p.stat().st_size for p in moved)
    for path in moved:
        path.rename(aside / path.name)
    try:
        with tempfile.TemporaryDirectory() as out:
            run([str(exe), "run", "resources/graphs/starter.graph.json", "-o", out, "--device", "cpu"], env, cwd)
        result = "renders"
    except SmokeFailed as exc:
        result = "fails: " + next(
            (ln for ln in str(exc).splitlines() if "cannot open" in ln or "Error" in ln), str(exc)
        )
    finally:
        for path in moved:
            (aside / path.name).rename(path)
        aside.rmdir()
    return {"cuda_files_left": len(moved), "cuda_bytes_left": saved, "without_them": result[:300]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle (dist/studio)")
    parser.add_argument("--work", type=Path, default=None, help="where to write the video, screenshot and smoke.json")
    parser.add_argument("--source-python", help="a Python with the studio installed: compare first-window times")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--without-cuda", action="store_true", help="measure a bundle without any CUDA file")
    args = parser.parse_args(argv)
    bundle = args.bundle.resolve()
    exe = bundle / ("studio.exe" if sys.platform == "win32" else "studio")
    work = (args.work or Path(tempfile.mkdtemp(prefix="studio-smoke-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    home, cwd = work / "home", work / "elsewhere"
    for folder in (
        home,
        cwd,
        work / "out",
        work / "out-process",
    ):  # a fresh start each time: the checks count what was written
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    env = clean_env(home)
    report: dict = {"bundle": str(bundle), "bundle_bytes": size_of(bundle)}
    try:
        outside = links_outside(bundle)
        if outside:
            raise SmokeFailed(f"links out of the bundle: {outside[:5]}")
        report |= check_nodes(exe, env, cwd)
        facts, video = check_render(exe, env, cwd, work / "out")
        report |= facts
        report |= check_render_process(exe, env, cwd, work / "out-process")
        report |= screenshot(exe, env, cwd, video, work / "window.png")
        report |= check_install(bundle, env, cwd)
        commands = {"bundle": ([str(exe)], env)}
        if args.source_python:
            # this checkout's code, the same entry script, the source install's Python and packages
            commands["source"] = ([args.source_python, str(ENTRY)], {**env, "PYTHONPATH": str(HERE.parent)})
        paint = first_paint_seconds(commands, cwd, args.runs)
        report["first_paint_bundle_s"] = round(paint["bundle"], 2)
        if "source" in paint:
            report["first_paint_source_s"] = round(paint["source"], 2)
            report["first_paint_ratio"] = round(paint["bundle"] / paint["source"], 2)
        if args.without_cuda:
            report |= without_cuda(bundle, exe, env, cwd)
        report["ok"] = True
    except (SmokeFailed, subprocess.TimeoutExpired) as exc:
        report |= {"ok": False, "failure": str(exc)}
    (work / "smoke.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
