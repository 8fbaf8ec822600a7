"""A hostile-input corpus (issue 12): the files a stranger could hand the studio, written by code.

Each :class:`Case` writes its inputs into a folder of its own (small on disk: bombs are compressed),
says how to run them (a ``studio`` command, and the Python API call that does the same), what must
come out (the exit code and the one line that explains it, naming the file, node or parameter) and
within what bounds (seconds, peak MB). :func:`run_case` runs one in a subprocess under an
address-space limit and measures it. ``tests/test_hostile_corpus.py`` asserts every case;
``benchmarks/bench_hostile.py`` prints their figures.

Generators that other tests already have are imported from them (``media_support``, ``test_cli``,
``test_media_hostile``, ``test_timeline_hostile``), so ``tests/`` must be on ``sys.path``. The module imports only the standard library until a case is written or run: this
file is also the API runner's script (``python tests/hostile_corpus.py api CALL ARGS…``).
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import tempfile
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
        return [sys.executable, str(Path(__file__).resolve()), "api", *filled]


# ---- graphs ----------------------------------------------------------------------------------
def _document(nodes: list, links: list | None = None, **extra) -> dict:
    return {"format": "studio.graph", "version": 1, "nodes": nodes, "links": links or [], **extra}


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def ring_text(size: int) -> str:
    """A graph file whose ``size`` Interpolate nodes feed each other in one ring (test_graph_walk's
    ``ring_graph`` builds one in memory from its test-only node types; this one is a file of built-ins)."""
    nodes = [{"id": f"n{i}", "type": "Interpolate"} for i in range(size)]
    links = [{"from": [f"n{i}", "frames"], "to": [f"n{(i + 1) % size}", "frames"]} for i in range(size)]
    return json.dumps(_document(nodes, links), separators=(",", ":"))


def write_ring(folder: Path) -> None:
    _write_text(folder / "ring.graph.json", ring_text(100_000))


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


# ---- the corpus ------------------------------------------------------------------------------
# Bounds are a few times what a quiet machine takes, as tests share theirs: validate 0.3 s and 20 MB,
# a small run 0.6 s and 85 MB, the 100,000-node ring 7 s and 306 MB, LoadModel's torch 8.5 s and 883 MB.
RUN_SECONDS, RUN_MB = 20, 250


def validate_of(name: str) -> tuple[str, ...]:
    return ("validate", "{case}/" + name)


def cli_run(name: str) -> tuple[str, ...]:
    return ("run", "{case}/" + name, "-o", "{out}", "--device", "cpu")


def api_run(name: str, *targets: str) -> tuple[str, ...]:
    return ("run", "{case}/" + name, "{out}", *targets)


RUN, API_RUN = cli_run("small.graph.json"), api_run("small.graph.json")  # test_cli's small graph
MODELS, API_MODELS = ("models", "--models", "{case}/models"), ("models", "{case}/models")
TIMELINE = ("timeline", "{case}/timeline.otio")  # the API runner's load_timeline


CASES: tuple[Case, ...] = (
    # ---- graph files
    Case(
        "graph_not_json", "graph", write_not_json,
        validate_of("not_json.graph.json"), 2, r"^studio validate: .*/not_json\.graph\.json: not valid JSON",
        validate_of("not_json.graph.json"), 2, r"^GraphFileError: .*/not_json\.graph\.json: not valid JSON",
    ),
    Case(
        "graph_deep_nesting", "graph", write_deep_nesting,
        validate_of("deep.graph.json"), 2, r"^studio validate: .*/deep\.graph\.json: the JSON is nested too deeply",
        validate_of("deep.graph.json"), 2, r"^GraphFileError: .*/deep\.graph\.json: the JSON is nested too deeply",
    ),
    Case(
        "graph_ring_100000", "graph", write_ring,
        validate_of("ring.graph.json"), 2, r"^error: n0 \(Interpolate\): is part of a cycle",
        validate_of("ring.graph.json"), 2, r"^GraphInvalid: n0 \(Interpolate\): is part of a cycle",
        seconds=60, peak_mb=600,
    ),
    Case(
        "graph_nan", "graph", write_nan,
        validate_of("nan.graph.json"), 2, r"^studio validate: .*/nan\.graph\.json: not acceptable JSON: NaN is not allowed",
        validate_of("nan.graph.json"), 2, r"^GraphFileError: .*/nan\.graph\.json: not acceptable JSON: NaN is not allowed",
    ),
    Case(
        "graph_lone_surrogate", "graph", write_lone_surrogate,
        validate_of("surrogate.graph.json"), 2,
        r"^studio validate: .*/surrogate\.graph\.json: node #1: id: text holds a lone surrogate \\ud800",
        validate_of("surrogate.graph.json"), 2,
        r"^GraphFileError: .*/surrogate\.graph\.json: node #1: id: text holds a lone surrogate \\ud800",
    ),
    Case(
        "graph_huge_float", "graph", write_huge_float,
        validate_of("huge_float.graph.json"), 2, r"^studio validate: .*/huge_float\.graph\.json: .*number 1e400 is out of range",
        validate_of("huge_float.graph.json"), 2, r"^GraphFileError: .*/huge_float\.graph\.json: .*number 1e400 is out of range",
    ),
    Case(
        "graph_huge_int", "graph", write_huge_int,
        validate_of("huge_int.graph.json"), 2, r"^studio validate: .*/huge_int\.graph\.json: not acceptable JSON: .*digits",
        validate_of("huge_int.graph.json"), 2, r"^GraphFileError: .*/huge_int\.graph\.json: not acceptable JSON: .*digits",
    ),
    Case(
        "graph_escapes_in_id_and_type", "graph", write_escapes_in_ids,
        validate_of("escapes.graph.json"), 2, r"^error: nx\\x1b\[2J\\x1b\]0;owned\\x07\\nerror: forged\\r\\u202e \(x\\x1b.*\): unknown node type",
        validate_of("escapes.graph.json"), 2, r"^GraphInvalid: nx\\x1b\[2J\\x1b\]0;owned\\x07\\nerror: forged\\r\\u202e \(x\\x1b.*\): unknown node type",
    ),
    Case(
        "graph_escapes_in_id_and_prefix_run", "graph", write_escapes_run,
        RUN, 0, r"^wrote .*/out-cli/clipx\\x1b\[2J\\x1b\]0;owned\\x07\\nerror: forged\\r\\u202e\\nwrote /etc/passwd_00001\.mp4$",
        API_RUN, 0, r"^RunReport: ok, wrote .*/out-api/clipx\\x1b\[2J\\x1b\]0;owned\\x07\\nerror: forged\\r\\u202e\\nwrote /etc/passwd_00001\.mp4$",
        seconds=RUN_SECONDS, peak_mb=RUN_MB, cli_stream="stdout",
    ),
    Case(
        "graph_prefix_dot", "graph", prefix_writer("."),
        RUN, 1, r"^FAILED  save \(SaveVideo\): filename_prefix '\.' names the output folder itself",
        API_RUN, 1, r"^NodeFailed: save \(SaveVideo\): filename_prefix '\.' names the output folder itself",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
    Case(
        "graph_prefix_dot_slash", "graph", prefix_writer("./"),
        RUN, 1, r"^FAILED  save \(SaveVideo\): filename_prefix '\./' names the output folder itself",
        API_RUN, 1, r"^NodeFailed: save \(SaveVideo\): filename_prefix '\./' names the output folder itself",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
    Case(
        "graph_prefix_dot_dot", "graph", prefix_writer(".."),
        RUN, 1, r"^FAILED  save \(SaveVideo\): filename_prefix '\.\.' leaves the output folder",
        API_RUN, 1, r"^NodeFailed: save \(SaveVideo\): filename_prefix '\.\.' leaves the output folder",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
    Case(
        "graph_prefix_absolute", "graph", prefix_writer("{case}/escaped"),
        RUN, 1, r"^FAILED  save \(SaveVideo\): filename_prefix '/.*/escaped' is an absolute path",
        API_RUN, 1, r"^NodeFailed: save \(SaveVideo\): filename_prefix '/.*/escaped' is an absolute path",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
    # ---- rendered videos carrying hostile graphs, and a video that carries none
    Case(
        "video_graph_nan", "video", rendered(_nan_graph_text),
        cli_run("render.mp4"), 2, r"^studio run: .*/render\.mp4: not acceptable JSON: NaN is not allowed",
        api_run("render.mp4"), 2, r"^GraphFileError: .*/render\.mp4: not acceptable JSON: NaN is not allowed",
    ),
    Case(
        "video_graph_over_size", "video", rendered(_oversize_graph_text),
        cli_run("render.mp4"), 2, r"^studio run: .*/render\.mp4: text is larger than the 33554432 bytes allowed",
        api_run("render.mp4"), 2, r"^GraphFileError: .*/render\.mp4: text is larger than the 33554432 bytes allowed",
        peak_mb=300, notes="a 32 MiB tag cannot be compressed: the one big file of the corpus",
    ),
    Case(
        "video_graph_ring_20000", "video", rendered(lambda: ring_text(20_000)),
        cli_run("render.mp4"), 2, r"^studio run: n0 \(Interpolate\): is part of a cycle",
        api_run("render.mp4"), 2, r"^GraphInvalid: n0 \(Interpolate\): is part of a cycle",
        seconds=30, peak_mb=300,
    ),
    Case(
        "video_without_graph", "video", write_foreign_video,
        validate_of("foreign.mp4"), 2, r"^studio validate: .*/foreign\.mp4: this video carries no studio graph",
        validate_of("foreign.mp4"), 2, r"^NoGraph: .*/foreign\.mp4 carries no studio graph",
    ),
    # ---- .otio timelines: no CLI command reads one, so only the API runs them
    Case(
        "timeline_deep_nesting", "timeline", timeline_writer(_deep_timeline),
        None, 0, "",
        TIMELINE, 2, r"^TimelineError: timeline\.otio: the JSON is nested too deeply",
    ),
    Case(
        "timeline_rate_nan", "timeline", timeline_writer(_timeline_rate("NaN")),
        None, 0, "",
        TIMELINE, 2, r"^TimelineError: timeline\.otio: metadata\.studio\.rate is nan, not a finite number",
    ),
    Case(
        "timeline_rate_zero", "timeline", timeline_writer(_timeline_rate("0")),
        None, 0, "",
        TIMELINE, 2, r"^TimelineError: timeline\.otio: the timeline's rate must be .* got 0$",
    ),
    Case(
        "timeline_rate_text", "timeline", timeline_writer(_timeline_rate('"fast"')),
        None, 0, "",
        TIMELINE, 2, r"^TimelineError: timeline\.otio: the timeline's rate must be .* got 'fast'$",
    ),
    Case(
        "timeline_clip_1e15_frames", "timeline", timeline_writer(_long_clip),
        None, 0, "",
        TIMELINE, 2, r"^TimelineError: timeline\.otio: Shots clip 1 'shot_b' has a duration of 1e\+15 frames",
    ),
    # ---- model folders: a scan lists what it skipped and why, one line each, and goes on
    Case(
        "models_fifo", "models", models_writer(_fifo),
        MODELS, 0, r"^skipped .*/fifo\.safetensors: not a regular file$",
        API_MODELS, 0, r"^Skipped: .*/fifo\.safetensors: not a regular file$",
    ),
    Case(
        "models_dangling_symlink", "models", models_writer(_dangling),
        MODELS, 0, r"^skipped .*/dangling\.safetensors: No such file or directory$",
        API_MODELS, 0, r"^Skipped: .*/dangling\.safetensors: No such file or directory$",
    ),
    Case(
        "models_header_number", "models", models_writer(_number_header),
        MODELS, 0, r"^skipped .*/number\.safetensors: the header is not a table of tensors$",
        API_MODELS, 0, r"^Skipped: .*/number\.safetensors: the header is not a table of tensors$",
    ),
    Case(
        "models_deep_model_index", "models", models_writer(_deep_index),
        MODELS, 0, r"^skipped .*/deep: .*/deep/model_index\.json: not valid JSON",
        API_MODELS, 0, r"^Skipped: .*/deep: .*/deep/model_index\.json: not valid JSON",
    ),
    Case(
        "models_nested_pipeline_pickles", "models", write_nested_pickles,
        cli_run("load.graph.json"), 1,
        r"^FAILED  load \(LoadModel\): .*/nested/transformer_2/transformer holds only pickle weights",
        api_run("load.graph.json"), 1,
        r"^NodeFailed: load \(LoadModel\): .*/nested/transformer_2/transformer holds only pickle weights",
        seconds=90, peak_mb=1500, torch=True, address_space=TORCH_ADDRESS_SPACE,
        notes="LoadModel imports torch and diffusers before it checks the folder",
    ),
    # ---- media read by a graph (STUDIO_MEDIA_BUDGET_BYTES is 16 MiB)
    Case(
        "media_png_bomb", "media", write_png_bomb,
        None, 0, "",
        api_run("image.graph.json", "image"), 1,
        r"^NodeFailed: image \(LoadImage\): path: bomb\.png: decoding needs 68\.7 MiB \(4000×3000 pixels\); the limit is 16\.0 MiB$",
        notes="no node takes an IMAGE input, so no graph the CLI runs reaches LoadImage: the API runs it as a target",
    ),
    Case(
        "media_png_claiming_30000x30000", "media", write_png_claim,
        None, 0, "",
        api_run("image.graph.json", "image"), 1,
        r"^NodeFailed: image \(LoadImage\): path: claim\.png: a picture of 30000×30000 is 900 megapixels, more than the 100 allowed",
        notes="API only, as media_png_bomb",
    ),
    Case(
        "media_live_matroska", "media", write_live_matroska,
        cli_run("video.graph.json"), 1,
        r"^FAILED  load \(LoadVideo\): path: live\.mkv: decoding needs more than .*frames of 640×480\); the limit is 16\.0 MiB",
        api_run("video.graph.json"), 1,
        r"^NodeFailed: load \(LoadVideo\): path: live\.mkv: decoding needs more than .*frames of 640×480\); the limit is 16\.0 MiB",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
    Case(
        "media_flac_384khz", "media", write_flac_384k,
        RUN, 1,
        r"^FAILED  sound \(LoadAudio\): path: silence\.flac: decoding needs 60\.0 MiB \(20\.48 s of 2-channel audio at 384000 Hz\); the limit is 16\.0 MiB",
        API_RUN, 1,
        r"^NodeFailed: sound \(LoadAudio\): path: silence\.flac: decoding needs 60\.0 MiB \(20\.48 s of 2-channel audio at 384000 Hz\); the limit is 16\.0 MiB",
        seconds=RUN_SECONDS, peak_mb=RUN_MB,
    ),
)  # fmt: skip

CASES_BY_NAME = {case.name: case for case in CASES}


def vias(case: Case) -> list[str]:
    """The ways a case runs: through the CLI where it has a command, and through the Python API."""
    return (["cli"] if case.cli is not None else []) + ["api"]


def write_case(case: Case, folder: Path) -> Path:
    """Write ``case``'s inputs into ``folder / case.name``; return that folder."""
    case_dir = folder / case.name
    case_dir.mkdir(parents=True)
    case.write(case_dir)
    return case_dir


def write_corpus(folder: Path) -> list[Path]:
    """Write every case into ``folder``, one sub-folder each."""
    return [write_case(case, folder) for case in CASES]


def size_on_disk(folder: Path) -> int:
    """Bytes of the regular files under ``folder`` (links and FIFOs count nothing)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
    return total


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


# ---- the API runner: python tests/hostile_corpus.py api CALL ARGS… ------------------------------
# Each call prints one line, ``Type: message`` (the typed error, or what the call returned), on
# stderr, escaped as the CLI escapes, and exits as the CLI would: 2 for a file or graph refused,
# 1 for a run with a failed node, 0 otherwise. Any other exception is left to print its traceback.
def _api_graph(path: str):
    from studio.graph import load_graph, loads_graph
    from studio.media.video_io import read_embedded_graph_text

    if path.endswith(".json"):
        return load_graph(path)
    text = read_embedded_graph_text(path)
    if text is None:
        raise _NoGraph(f"{path} carries no studio graph")
    return loads_graph(text, source=path)


class _NoGraph(Exception):
    """read_embedded_graph_text returned None: the video carries no graph."""


def _call_validate(path: str) -> tuple[list[str], int]:
    from studio.composition import default_registry
    from studio.graph import GraphInvalid, validate
    from studio.graph.validate import errors

    graph = _api_graph(path)
    problems = errors(validate(graph, default_registry()))
    if problems:
        raise GraphInvalid(problems)
    return [f"Graph: {len(graph)} nodes, valid"], 0


def _call_run(path: str, out: str, *targets: str) -> tuple[list[str], int]:
    from studio.composition import default_families, default_registry
    from studio.engine import Engine, NodeFailed, RunSettings

    graph = _api_graph(path)
    failures: list[str] = []
    engine = Engine(
        "cpu", registry=default_registry(), families=default_families(), settings=RunSettings(output_dir=Path(out))
    )

    def collect(event) -> None:
        if isinstance(event, NodeFailed):
            failures.append(event.message)

    report = engine.run(graph, collect, targets=list(targets) or None)
    if failures:
        return [f"NodeFailed: {message}" for message in failures], 1
    return ["RunReport: ok, wrote " + ", ".join(str(p) for p in report.files())], 0


def _call_models(folder: str) -> tuple[list[str], int]:
    from studio.composition import default_families
    from studio.models import scan_models

    scan = scan_models([Path(folder)], default_families())
    lines = [f"Skipped: {s.path}: {s.reason}" for s in scan.skipped]
    lines += [f"ModelEntry: {m.path} ({m.family})" for m in scan.models]
    return lines or ["ModelScan: empty"], 0


def _call_timeline(path: str) -> tuple[list[str], int]:
    from studio.timeline import load_timeline

    timeline = load_timeline(path)
    return [f"Timeline: {len(timeline)} shots"], 0


API_CALLS = {"validate": _call_validate, "run": _call_run, "models": _call_models, "timeline": _call_timeline}


def api_main(argv: list[str]) -> int:
    from studio.graph import GraphFileError, GraphInvalid
    from studio.textsafe import safe
    from studio.timeline import TimelineError

    call, *args = argv
    try:
        lines, code = API_CALLS[call](*args)
    except GraphFileError as exc:
        problems, code = [f"{exc.source}: {p}" if exc.source else p for p in exc.problems], 2
        lines = [f"GraphFileError: {problems[0]}" + _more(problems)]
    except GraphInvalid as exc:
        problems, code = [str(p) for p in exc.problems], 2
        lines = [f"GraphInvalid: {problems[0]}" + _more(problems)]
    except (TimelineError, _NoGraph) as exc:
        name = "NoGraph" if isinstance(exc, _NoGraph) else type(exc).__name__
        lines, code = [f"{name}: {exc}"], 2
    for line in lines:
        print(safe(line), file=sys.stderr)
    return code


def _more(problems: list[str]) -> str:
    return f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""


if __name__ == "__main__":
    if sys.argv[1:2] != ["api"]:
        sys.exit("usage: hostile_corpus.py api CALL ARGS…")
    sys.exit(api_main(sys.argv[2:]))
