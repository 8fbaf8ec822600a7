"""The wheel holds every module and the bundled files, and an installed wheel renders the starter
graph from any working folder, with the source tree nowhere on its path.

The sdist and the wheel are built offline by ``python -m build`` from a copy of the tree (a stale
build/ folder can't leak into it; the wheel is built from the sdist, so the sdist is complete), and the wheel is
installed into a fresh virtual environment that borrows the project environment's third-party
packages through a folder of links, leaving out the editable install's hook for ``studio``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = [
    "studio/resources/__init__.py",
    "studio/resources/graphs/starter.graph.json",
    "studio/resources/graphs/test-pattern.graph.json",
    "studio/resources/audio/chime.wav",
    "studio/resources/models/starter/model_index.json",
    "studio/resources/models/starter/transformer/diffusion_pytorch_model.safetensors",
    "studio/resources/models/starter/vae/diffusion_pytorch_model.safetensors",
    "studio/resources/models/starter/text_encoder/model.safetensors",
    "studio/resources/models/starter/tokenizer/tokenizer.json",
]
NOT_SOURCE = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "output")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    tree = tmp_path_factory.mktemp("wheel") / "source"
    shutil.copytree(ROOT, tree, ignore=NOT_SOURCE)
    return tree


@pytest.fixture(scope="module")
def dists(source) -> Path:
    """`python -m build` (offline, with the installed setuptools) makes the sdist, then the wheel from it."""
    dist = source.parent / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)], cwd=source.parent)
    return dist


@pytest.fixture(scope="module")
def wheel(dists) -> Path:
    (found,) = dists.glob("studio-*.whl")
    return found


def test_the_sdist_holds_what_it_takes_to_test_and_package_the_project(dists):
    (sdist,) = dists.glob("studio-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = [
        "pyproject.toml",
        "LICENSE",
        "constraints.txt",
        "studio/cli.py",
        "nodes/__init__.py",
        "resources/graphs/starter.graph.json",
        "tests/test_wheel.py",
        "packaging/pyinstaller/studio.spec",
        "packaging/linux/io.github.studio_app.Studio.desktop",
    ]
    assert [name for name in needed if name not in names] == []


def test_the_wheel_holds_every_module_and_the_bundled_files(wheel, source):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in BUNDLED if name not in names] == []
    modules = {p.relative_to(source).as_posix() for top in ("studio", "nodes") for p in (source / top).rglob("*.py")}
    missing = sorted(modules - names)
    assert missing == [], f"list their packages under [tool.setuptools] packages in pyproject.toml: {missing}"


def _borrowed_packages(folder: Path) -> Path:
    """A folder of links to this environment's installed packages, less the studio itself (an
    editable install's finder would import the source tree) and the .pth hooks."""
    folder.mkdir()
    sites = dict.fromkeys(Path(sysconfig.get_paths()[key]) for key in ("purelib", "platlib"))
    for site in sites:
        for entry in site.iterdir():
            name = entry.name
            if (
                name in ("studio", "nodes", "__pycache__")
                or name.endswith(".pth")
                or name.startswith(("__editable__", "studio-"))
                or (folder / name).exists()
            ):
                continue
            (folder / name).symlink_to(entry)
    return folder


@pytest.fixture(scope="module")
def installed(wheel) -> Path:
    """A fresh virtual environment with the wheel installed; returns its folder."""
    work = wheel.parent.parent
    env = work / "env"
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--without-pip", str(env)])
    python = env / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # A .pth line is appended to sys.path after the environment's own site-packages.
    (site / "borrowed.pth").write_text(f"{_borrowed_packages(work / 'borrowed')}\n")
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-cache-dir", str(wheel)])
    return env


def _clean_environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(STUDIO_HOME=str(home), PYTHONNOUSERSITE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


@pytest.mark.ml
@pytest.mark.timeout(600)
def test_the_installed_wheel_renders_the_starter_graph_from_another_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_environment(tmp_path / "home")
    where = (
        "import json, studio; from studio.bundled import find_bundled; "
        "print(json.dumps([studio.__file__, str(find_bundled('resources/graphs/starter.graph.json'))]))"
    )
    done = _run([str(installed / "bin" / "python"), "-c", where], cwd=elsewhere, env=env)
    module, graph = (Path(p) for p in json.loads(done.stdout))
    assert module.resolve().is_relative_to(installed.resolve()), f"studio imported from {module}, not the wheel"
    assert graph.is_file() and graph.resolve().is_relative_to(installed.resolve())

    out = tmp_path / "out"
    _run(
        [str(installed / "bin" / "studio"), "run", str(graph), "-o", str(out), "--device", "cpu"],
        cwd=elsewhere,
        env=env,
    )
    videos = list(out.glob("*.mp4"))
    assert len(videos) == 1 and videos[0].stat().st_size > 0
    assert list(elsewhere.iterdir()) == []  # the graph's relative paths came from the wheel, nothing written here
