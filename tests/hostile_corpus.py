"""A hostile-input corpus (issue 12): the files a stranger could hand the studio, written by code.

Each :class:`Case` writes its inputs into a folder of its own (small on disk: bombs are compressed),
says how to run them (a ``studio`` command, and the Python API call that does the same), what must
come out (the exit code and the one line that explains it, naming the file, node or parameter) and
within what bounds (seconds, peak MB). :func:`run_case` runs one in a subprocess under an
address-space limit and measures it. ``tests/test_hostile_corpus.py`` asserts every case;
``benchmarks/bench_hostile.py`` prints their figures.

Generators that other tests already have are imported from them (``media_support``, ``test_cli``,
``test_media_hostile``, ``test_timeline_hostile``), so ``tests/`` must be on ``sys.path``. The module
imports only the standard library until a case is written. Running a case under limits is
``hostile_runner.py``; the Python API side of each case is the script ``hostile_api.py``.
"""

from __future__ import annotations

import json
import os
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024**2
GiB = 1024**3

MEDIA_BUDGET = 16 * MiB  # STUDIO_MEDIA_BUDGET_BYTES for every case: media refusals come at once
ADDRESS_SPACE = 4 * GiB  # RLIMIT_AS: `studio run` of the test pattern peaks at about 0.6 GB of it
TORCH_ADDRESS_SPACE = 8 * GiB  # importing torch and a diffusers pipeline maps about 3.6 GB (fails under 3 GB)

# Text that must never reach a terminal raw: escape sequences, a bell, a carriage return, a bidi
# override and newlines that would forge lines of the CLI's own output.
EVIL = "x\x1b[2J\x1b]0;owned\x07\nerror: forged\r\u202e"
FORGED = re.compile(r"^(error: forged|wrote /etc/passwd)", re.MULTILINE)
FORGED_PREFIX = "clip" + EVIL + "\nwrote /etc/passwd"


@dataclass(frozen=True)
class Case:
    """One hostile input and what the studio must make of it.

    ``cli`` is the ``studio`` command (None where the CLI has no way to reach the input) and ``api``
    the same through the Python API, run by :func:`api_main`; both with ``{case}`` (the case's
    folder) and ``{out}`` (its output folder) filled in. ``message`` and ``api_message`` are
    searched in the one line that is not a progress line: on stderr (the API runner's always), or
    on stdout where ``cli_stream`` says so. ``seconds`` and ``peak_mb`` bound both runs.
    """

    name: str
    kind: str  # graph, video, timeline, models, media
    write: Callable[[Path], object]
    cli: tuple[str, ...] | None
    exit_code: int
    message: str
    api: tuple[str, ...]
    api_exit: int
    api_message: str
    seconds: float = 10.0
    peak_mb: int = 150
    cli_stream: str = "stderr"
    torch: bool = False  # imports torch and diffusers: the ml tier
    address_space: int = ADDRESS_SPACE
    notes: str = ""

    def command(self, via: str, case_dir: Path, out: Path) -> list[str]:
        """The argument list to run this case ``via`` "cli" or "api"."""
        args = self.cli if via == "cli" else self.api
        if args is None:
            raise ValueError(f"{self.name} has no {via} command")
        filled = [a.format(case=case_dir, out=out) for a in args]
        if via == "cli":
            return [sys.executable, "-m", "studio.cli", *filled]
        return [sys.executable, str(Path(__file__).resolve().with_name("hostile_api.py")), *filled]


# ---- graphs ----------------------------------------------------------------------------------
def _document(nodes: list, links: list | None = None, **extra) -> dict:
    return {"format": "studio.graph", "version": 1, "nodes": nodes, "links": links or [], **extra}


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ring_text(size: int) -> str:
    """A graph file whose ``size`` Interpolate nodes feed each other in one ring (test_graph_walk's
    ``ring_graph`` builds one in memory from its test-only node types; this one is a file of built-ins)."""
    nodes = [{"id": f"n{i}", "type": "Interpolate"} for i in range(size)] + [{"id": "show", "type": "PreviewVideo"}]
    links = [{"from": [f"n{i}", "frames"], "to": [f"n{(i + 1) % size}", "frames"]} for i in range(size)]
    links.append({"from": [f"n{size - 1}", "frames"], "to": ["show", "frames"]})  # an output, so the cycle is all
    return json.dumps(_document(nodes, links), separators=(",", ":"))


def write_ring(folder: Path) -> None:
    _write_text(folder / "ring.graph.json", ring_text(99_999))  # + the preview node: the 100,000-node limit


def write_not_json(folder: Path) -> None:
    _write_text(folder / "not_json.graph.json", "format: studio.graph\nnodes: [a, b]\n")


def write_deep_nesting(folder: Path) -> None:
    depth = 100_000
    text = json.dumps(_document([]))[:-1] + ', "meta": {"x": ' + "[" * depth + "]" * depth + "}}"
    _write_text(folder / "deep.graph.json", text)


def write_nan(folder: Path) -> None:
    node = {"id": "pattern", "type": "TestPattern", "params": {"fps": float("nan")}}
    _write_text(folder / "nan.graph.json", json.dumps(_document([node])))  # json writes NaN bare


def write_lone_surrogate(folder: Path) -> None:
    node = {"id": "pattern\ud800", "type": "TestPattern"}
    _write_text(folder / "surrogate.graph.json", json.dumps(_document([node])))  # as the escape \ud800


def write_huge_float(folder: Path) -> None:
    text = json.dumps(_document([{"id": "pattern", "type": "TestPattern", "params": {"fps": 1.0}}]))
    _write_text(folder / "huge_float.graph.json", text.replace('"fps": 1.0', '"fps": 1e400'))


def write_huge_int(folder: Path) -> None:
    text = json.dumps(_document([{"id": "pattern", "type": "TestPattern", "params": {"width": 1}}]))
    _write_text(folder / "huge_int.graph.json", text.replace('"width": 1', '"width": 1' + "0" * 100_000))


def write_escapes_in_ids(folder: Path) -> None:
    """A node whose id and type are EVIL, beside a valid pattern → save pair (so that is the only problem)."""
    nodes = [
        {"id": "n" + EVIL, "type": EVIL},
        {"id": "pattern", "type": "TestPattern"},
        {"id": "save", "type": "SaveVideo"},
    ]
    links = [{"from": ["pattern", "frames"], "to": ["save", "frames"]}]
    _write_text(folder / "escapes.graph.json", json.dumps(_document(nodes, links)))


def small_graph_with(folder: Path, change: Callable[[dict], None]) -> Path:
    """The test pattern at 32×32, 4 frames (test_cli's ``small_graph``), changed by ``change``."""
    from test_cli import small_graph

    path = small_graph(folder)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    return path


def write_escapes_run(folder: Path) -> None:
    def change(data: dict) -> None:
        data["nodes"][0]["id"] = data["links"][0]["from"][0] = "pattern" + EVIL
        data["nodes"][1]["params"]["filename_prefix"] = FORGED_PREFIX

    small_graph_with(folder, change)


def prefix_writer(prefix: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        value = prefix.format(case=folder)
        small_graph_with(folder, lambda data: data["nodes"][1]["params"].update(filename_prefix=value))

    return write


# ---- rendered videos and foreign ones --------------------------------------------------------
def rendered(text: Callable[[], str]) -> Callable[[Path], None]:
    """A video the studio could have rendered, its graph tag holding ``text()`` (test_media_hostile)."""

    def write(folder: Path) -> None:
        from test_media_hostile import rendered_with

        rendered_with(folder, text())

    return write


def _nan_graph_text() -> str:
    return json.dumps(_document([], meta={"x": float("nan")}))


def _oversize_graph_text() -> str:
    from studio.graph.fileformat import MAX_FILE_BYTES

    return json.dumps(_document([], meta={"pad": "x" * MAX_FILE_BYTES}))


def write_foreign_video(folder: Path) -> None:
    from media_support import moving_frames

    from studio.media.video_io import write_video

    write_video(folder / "foreign.mp4", moving_frames(count=2))


# ---- timelines -------------------------------------------------------------------------------
def timeline_writer(change: Callable[[Path], str]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        _write_text(folder / "timeline.otio", change(folder))

    return write


def _deep_timeline(folder: Path) -> str:
    from test_timeline_hostile import nested_stacks

    return nested_stacks(100_000)


def _timeline_rate(rate: str) -> Callable[[Path], str]:
    def change(folder: Path) -> str:
        from test_timeline_hostile import studio_document

        text = json.dumps(studio_document(folder)).replace('"rate": 24.0}', f'"rate": {rate}}}', 1)
        assert rate in text
        return text

    return change


def _long_clip(folder: Path) -> str:
    from test_timeline_hostile import shots_track, studio_document

    document = studio_document(folder)
    shots_track(document)[2]["source_range"]["duration"]["value"] = 1e15
    return json.dumps(document)


# ---- model folders ---------------------------------------------------------------------------
def models_writer(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        models = folder / "models"
        models.mkdir()
        make(models)

    return write


def _fifo(models: Path) -> None:
    os.mkfifo(models / "fifo.safetensors")


def _dangling(models: Path) -> None:
    (models / "dangling.safetensors").symlink_to(models / "nowhere.safetensors")


def _number_header(models: Path) -> None:
    (models / "number.safetensors").write_bytes(struct.pack("<Q", 2) + b"42")


def _deep_index(models: Path) -> None:
    (models / "deep").mkdir()
    _write_text(models / "deep" / "model_index.json", "[" * 100_000 + "]" * 100_000)


def nested_pickles(models: Path) -> Path:
    """A Wan folder whose component ``transformer_2`` is a pipeline folder itself, holding only a .bin."""
    folder = models / "nested"
    inner = folder / "transformer_2" / "transformer"
    inner.mkdir(parents=True)
    index = {"_class_name": "WanPipeline", "transformer_2": ["diffusers", "WanPipeline"]}
    _write_text(folder / "model_index.json", json.dumps(index))
    inner_index = {"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"]}
    _write_text(folder / "transformer_2" / "model_index.json", json.dumps(inner_index))
    (inner / "diffusion_pytorch_model.bin").write_bytes(b"a payload that never runs")
    return folder


def write_nested_pickles(folder: Path) -> None:
    """The folder, and a graph that loads it: LoadModel → TextEncode, EmptyLatent → Sampler → VAEDecode → SaveVideo."""
    models = folder / "models"
    models.mkdir()
    path = nested_pickles(models)
    nodes = [
        {"id": "load", "type": "LoadModel", "params": {"path": str(path)}},
        {"id": "prompt", "type": "TextEncode", "params": {"text": "a cat"}},
        {"id": "latent", "type": "EmptyLatent", "params": {"width": 64, "height": 64}},
        {"id": "sampler", "type": "Sampler", "params": {"steps": 1}},
        {"id": "decode", "type": "VAEDecode"},
        {"id": "save", "type": "SaveVideo"},
    ]
    wires = [
        ("load", "model", "prompt", "model"),
        ("load", "model", "latent", "model"),
        ("load", "model", "sampler", "model"),
        ("prompt", "conditioning", "sampler", "positive"),
        ("latent", "latent", "sampler", "latent"),
        ("load", "model", "decode", "model"),
        ("sampler", "latent", "decode", "latent"),
        ("decode", "frames", "save", "frames"),
    ]
    links = [{"from": [a, p], "to": [b, q]} for a, p, b, q in wires]
    _write_text(folder / "load.graph.json", json.dumps(_document(nodes, links)))


# ---- media used by a graph -------------------------------------------------------------------
def write_png_bomb(folder: Path) -> None:
    """A real PNG of 4000×3000 zero pixels (36 MB decoded) in a few KB, and LoadImage reading it."""
    from media_support import png_claiming

    png_claiming(folder / "bomb.png", 4000, 3000, real_rows=True)
    node = {"id": "image", "type": "LoadImage", "params": {"path": str(folder / "bomb.png")}}
    _write_text(folder / "image.graph.json", json.dumps(_document([node])))


def write_png_claim(folder: Path) -> None:
    """A PNG whose header claims 30000×30000 pixels (2.7 GB decoded) over a token of data."""
    from media_support import png_claiming

    png_claiming(folder / "claim.png", 30000, 30000)
    node = {"id": "image", "type": "LoadImage", "params": {"path": str(folder / "claim.png")}}
    _write_text(folder / "image.graph.json", json.dumps(_document([node])))


def write_live_matroska(folder: Path) -> None:
    """48 frames of 640×480 (44 MB decoded) in live-mode Matroska (no duration, no frame count): LoadVideo → SaveVideo."""
    from media_support import flat_video

    flat_video(folder / "live.mkv", 48, 640, 480, live=True)
    nodes = [
        {"id": "load", "type": "LoadVideo", "params": {"path": str(folder / "live.mkv")}},
        {"id": "save", "type": "SaveVideo", "params": {"filename_prefix": "clip"}},
    ]
    links = [{"from": ["load", "frames"], "to": ["save", "frames"]}]
    _write_text(folder / "video.graph.json", json.dumps(_document(nodes, links)))


def write_flac_384k(folder: Path) -> None:
    """20 s of stereo FLAC silence resampled to 384 kHz (60 MB): TestPattern → SaveVideo ← LoadAudio."""
    from media_support import flac_silence

    flac_silence(folder / "silence.flac", 20.48)
    path = str(folder / "silence.flac")

    def change(data: dict) -> None:
        data["nodes"].append({"id": "sound", "type": "LoadAudio", "params": {"path": path, "sample_rate": 384_000}})
        data["links"].append({"from": ["sound", "audio"], "to": ["save", "audio"]})

    small_graph_with(folder, change)
