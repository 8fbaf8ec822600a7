"""The hostile cases (issue 12): each input of tests/hostile_corpus.py, how to run it and what must come out."""

from __future__ import annotations

import os
from pathlib import Path

from hostile_corpus import (
    TORCH_ADDRESS_SPACE,
    Case,
    _dangling,
    _deep_index,
    _deep_timeline,
    _fifo,
    _long_clip,
    _nan_graph_text,
    _number_header,
    _oversize_graph_text,
    _timeline_rate,
    models_writer,
    prefix_writer,
    rendered,
    ring_text,
    timeline_writer,
    write_deep_nesting,
    write_escapes_in_ids,
    write_escapes_run,
    write_flac_384k,
    write_foreign_video,
    write_huge_float,
    write_huge_int,
    write_live_matroska,
    write_lone_surrogate,
    write_nan,
    write_nested_pickles,
    write_not_json,
    write_png_bomb,
    write_png_claim,
    write_ring,
)

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
        "graph_ring_99999", "graph", write_ring,
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
