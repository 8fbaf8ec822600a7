"""The ``studio`` command: the GUI by default, and ``run``, ``batch``, ``validate``, ``nodes``, ``models``.

Exit codes: 0 success, 1 a run that failed or was cancelled, 2 an invalid graph or arguments.
Only the standard library is imported up front so ``studio --help`` answers at once.
Text that comes from a graph, an event or the file system is printed through :func:`safe`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.run_console import JsonPrinter, ProgressPrinter, RunInterrupts, RunWatch, log_to_stderr
from studio.textsafe import safe

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
COMMANDS = ("run", "batch", "validate", "nodes", "models")
USAGE = "%(prog)s [-h] [--version] [GRAPH]\n       %(prog)s {run,batch,validate,nodes,models} ..."
DESCRIPTION = (
    "Node-graph studio for AI video generation. Without a command it opens the window, with GRAPH "
    "(a .graph.json file, or a video the studio rendered) if given. The commands work without a window."
)


MODELS_HELP = "add a model folder for this command (repeatable; a ComfyUI install or its models/ folder works as is)"


class UsageError(Exception):
    """Bad arguments or an invalid graph: printed as lines, exit code 2."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__("\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        usage=USAGE,
        description=DESCRIPTION,
        epilog="`studio COMMAND -h` shows a command's options; `studio run GRAPH` renders without a window.",
    )
    parser.add_argument("--version", action="version", version=f"studio {_version()}")
    # prog: without it the commands' usage lines would repeat the custom usage above.
    sub = parser.add_subparsers(dest="command", metavar="{run,batch,validate,nodes,models}", prog="studio")

    run = sub.add_parser("run", help="render a graph headless")
    run.add_argument("graph", help="a .graph.json file, or a video/image rendered by the studio")
    run.add_argument("-o", "--output", help="output folder (default: the app's output folder)")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NODE.PARAM=VALUE",
        help="override a parameter for this run (repeatable)",
    )
    run.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default=None)
    run.add_argument("--json", action="store_true", help="print one JSON event per line")
    run.add_argument("--models", action="append", default=[], metavar="DIR", help=MODELS_HELP)
    run.add_argument(
        "--estimate",
        action="store_true",
        help="print the memory the run would need on the device and exit without running "
        "(0 fits, 1 will not or model files are missing)",
    )

    from studio.batch import add_parser as add_batch_parser

    add_batch_parser(sub, MODELS_HELP)

    validate = sub.add_parser("validate", help="check a graph without running it")
    validate.add_argument("graph")

    nodes = sub.add_parser("nodes", help="list the node catalogue")
    nodes.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="list the models found in the model folders")
    models.add_argument("--json", action="store_true")
    models.add_argument("--models", action="append", default=[], metavar="DIR", help=MODELS_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0] not in COMMANDS and not args_list[0].startswith("-")):
        return _gui(args_list)
    args = build_parser().parse_args(args_list)
    if args.command is None:
        return _gui([])
    prefix = f"studio {args.command}: "
    log_to_stderr()
    try:
        if args.command == "batch":
            from studio.batch import cmd_batch

            return cmd_batch(args)
        return {"run": cmd_run, "validate": cmd_validate, "nodes": cmd_nodes, "models": cmd_models}[args.command](args)
    except UsageError as exc:
        for line in exc.lines:
            print(prefix + safe(line), file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the file system refused something outside a node: a line, not a traceback
        print(prefix + safe(_os_reason(exc)), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:  # outside a run; during one Ctrl+C cancels it (see RunInterrupts)
        print(prefix + "interrupted", file=sys.stderr)
        return EXIT_FAILED


# ---- commands --------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from studio.composition import default_registry
    from studio.graph import validate

    registry = default_registry()
    graph = _load(args.graph)
    problems = validate(graph, registry)
    for problem in problems:
        print(f"{problem.severity}: {safe(str(problem))}", file=sys.stderr)
    if any(p.severity == "error" for p in problems):
        return EXIT_INVALID
    print(f"{safe(args.graph)}: valid ({len(graph)} nodes, {len(graph.links)} links)")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from studio.composition import default_registry
    from studio.engine import CancelToken
    from studio.graph import GraphInvalid
    from studio.settings import Settings

    token = CancelToken()
    watch = RunWatch(JsonPrinter() if args.json else ProgressPrinter())
    with RunInterrupts(token, watch).installed() as interrupts:  # from here on Ctrl+C and SIGTERM cancel
        settings = Settings.load()
        registry = default_registry()
        for problem in registry.problems:
            print(f"warning: {safe(str(problem))}", file=sys.stderr)
        graph = _load(args.graph)
        _apply_sets(graph, registry, args.sets)
        output_dir = _output_folder(args.output, settings.output_path)
        engine = command_engine(args, settings, registry, output_dir)

        if args.estimate:
            return _print_estimate(engine, graph, args.json)

        # A token cancelled already (Ctrl+C while loading) still runs: every node is skipped and
        # the engine reports ``done`` with ``cancelled``, as a tool reading --json expects.
        try:
            report = interrupts.wait_for(lambda: engine.run(graph, watch, cancel=token))
        except GraphInvalid as exc:
            raise UsageError([str(p) for p in exc.problems]) from None
    watch.printer.finish(report)
    return EXIT_OK if report.ok else EXIT_FAILED


def _print_estimate(engine, graph, as_json: bool) -> int:
    """``studio run --estimate``: the plan's memory, as a table or one JSON event; nothing runs."""
    from studio.graph import GraphInvalid

    try:
        estimate = engine.estimate(graph)
    except GraphInvalid as exc:
        raise UsageError([str(p) for p in exc.problems]) from None
    if as_json:
        print(json.dumps(estimate.to_json(), default=str))
    else:
        print("\n".join(safe(line) for line in estimate.lines()))
    return EXIT_OK if estimate.fits and not estimate.missing else EXIT_FAILED  # missing files: not measured


def cmd_nodes(args: argparse.Namespace) -> int:
    from studio.composition import default_registry

    registry = default_registry()
    specs = list(registry)
    if args.json:
        print(json.dumps({"nodes": [s.to_json() for s in specs]}, indent=2))
        return EXIT_OK
    category = None
    for spec in specs:
        if spec.category != category:
            category = spec.category
            print(f"\n{safe(category)}")
        ins = ", ".join(f"{p.name}:{p.type}{'?' if p.optional else ''}" for p in spec.inputs) or "—"
        outs = ", ".join(f"{p.name}:{p.type}" for p in spec.outputs) or "—"
        params = ", ".join(f"{p.name}={p.default!r}" for p in spec.params) or "—"
        print(safe(f"  {spec.type}  ({ins}) -> ({outs})"))
        print(safe(f"      {spec.description}"))
        print(safe(f"      params: {params}"))
    for problem in registry.problems:
        print(f"warning: {safe(str(problem))}", file=sys.stderr)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from studio.composition import default_families
    from studio.models import bundled_models, scan_models
    from studio.nodeapi.kinds import KIND_LABELS, KINDS
    from studio.settings import Settings, ensure_models_folder

    try:
        ensure_models_folder()  # first use: the app's folder, with a README saying what goes where
    except OSError as exc:
        print(f"warning: cannot create the models folder: {safe(str(exc))}", file=sys.stderr)
    folders = [*_model_folders(args.models), *Settings.load().model_paths()]
    families = default_families()
    scan = scan_models(folders, families)
    bundled = bundled_models(families)
    skipped = [*scan.skipped, *bundled.skipped]
    if args.json:
        print(
            json.dumps(
                {
                    "folders": [str(f) for f in folders],
                    "models": [m.to_json() for m in scan.models],
                    "bundled": [m.to_json() for m in bundled.models],
                    "skipped": [s.to_json() for s in skipped],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print("model folders: " + safe(", ".join(str(f) for f in folders)))
    if not scan.models:
        print("no models found in the model folders")
    for kind in KINDS:
        found = [m for m in scan.models if m.kind == kind]
        if found:
            print(safe(KIND_LABELS[kind] if kind == "unknown" else f"{KIND_LABELS[kind]}s"))
        for model in found:
            what = model.variant or model.family
            note = "  (needs allow pickle)" if model.needs_pickle else ""
            line = f"  {model.name:40s} {what:26s} {model.precision or '-':12s} {_human_size(model.size_bytes):>9s}"
            print(safe(f"{line}  {model.path}{note}"))
    if bundled.models:
        print("bundled with the app")
    for model in bundled.models:
        line = f"  {model.name:40s} {model.variant:26s} {model.precision:12s} {_human_size(model.size_bytes):>9s}"
        print(safe(f"{line}  {model.ref}"))
    for item in skipped:
        print(safe(f"skipped {item.path}: {item.reason}"), file=sys.stderr)
    return EXIT_OK


# ---- helpers ---------------------------------------------------------------------------
def _model_folders(given: list[str]) -> list[Path]:
    """``--models`` folders, checked before anything runs."""
    folders = []
    for text in given:
        folder = Path(text).expanduser()
        if not folder.is_dir():
            raise UsageError([f"--models {text}: no such folder"])
        folders.append(folder.resolve())
    return folders


def command_engine(args: argparse.Namespace, settings: Any, registry: Any, output_dir: Path) -> Any:
    """The engine ``studio run`` and ``studio batch`` build from their options (--device, --models,
    --json) and the settings; its device resolved now, so an unavailable one is a usage error."""
    from studio.local_engine import engine_from_settings

    engine = engine_from_settings(
        settings,
        registry,
        device=args.device,
        output_dir=output_dir,
        model_folders=_model_folders(args.models),
        preview_interval=0.0 if args.json else 0.25,
    )
    try:
        _ = engine.device
    except ValueError as exc:
        raise UsageError([str(exc)]) from None
    return engine


def _load(path: str):
    """Load a graph file, or the graph embedded in a video the studio rendered. A relative path that
    names a bundled file (``resources/graphs/starter.graph.json``) works from any folder."""
    from studio.bundled import find_bundled
    from studio.graph import GraphFileError, load_graph, loads_graph

    file = Path(path)
    try:
        if not file.exists() and (bundled := find_bundled(path)) is not None:
            file, path = bundled, str(bundled)
        if file.is_dir():
            raise UsageError([f"{path}: is a folder, not a graph file"])
        if not file.is_file():
            raise UsageError([f"{path}: no such file"])
        if path.endswith(".json") or _starts_like_json(file):
            return load_graph(path)
        from studio.media.video_io import read_embedded_graph_text

        text = read_embedded_graph_text(path)
        if text is None:
            kind = _MEDIA_KINDS.get(file.suffix.lower(), "video")
            raise UsageError([f"{path}: this {kind} carries no studio graph (only files the studio rendered do)"])
        return loads_graph(text, source=path)  # the same loader and limits as a graph file
    except GraphFileError as exc:
        raise UsageError([f"{exc.source or path}: {p}" for p in exc.problems]) from None
    except OSError as exc:
        raise UsageError([f"{path}: {exc.strerror or exc}"]) from None


_MEDIA_KINDS = {
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"), "image"),
    **dict.fromkeys((".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aiff"), "sound file"),
}


def _starts_like_json(file: Path) -> bool:
    """Whether a file without the .json suffix is a graph file (JSON text) rather than a video."""
    with open(file, "rb") as handle:
        head = handle.read(64)
    return head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{")


def _output_folder(given: str | None, default: Path) -> Path:
    """The folder a run writes into, created if needed; a UsageError before anything runs if it can't be."""
    path = Path(given) if given else default
    name = f"-o {given}" if given else f"the output folder {path} (from the settings; choose another with -o)"
    try:
        if path.exists() and not path.is_dir():
            raise UsageError([f"{name}: is a file, not a folder"])
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise UsageError([f"{name}: cannot create this folder: {blocker} is a file"])
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError([f"{name}: cannot create this folder ({exc.strerror or exc})"]) from None
    try:
        with tempfile.TemporaryFile(dir=path):  # the only honest test: permissions, ACLs, read-only disks
            pass
    except OSError as exc:
        raise UsageError([f"{name}: cannot write in this folder ({exc.strerror or exc})"]) from None
    return path.resolve()


def _os_reason(exc: OSError) -> str:
    """``PATH: reason`` for an error from the file system."""
    reason = exc.strerror or str(exc)
    names = [os.fsdecode(n) if isinstance(n, (str, bytes)) else str(n) for n in (exc.filename, exc.filename2) if n]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def _apply_sets(graph, registry, sets: list[str]) -> None:
    from studio.variations import find_param

    problems = []
    for item in sets:
        target, sep, text = item.partition("=")
        node_id, dot, param_name = target.rpartition(".")
        if not sep or not dot or not node_id or not param_name:
            problems.append(f"--set {item!r}: expected NODE.PARAM=VALUE")
            continue
        try:
            node, param = find_param(graph, registry, node_id, param_name)
        except LookupError as exc:
            problems.append(f"--set {item!r}: {exc}")
            continue
        try:
            value = param.parse_text(text)
        except ValueError as exc:
            problems.append(f"{node_id} ({node.type}): {param_name} {exc}")
            continue
        reason = param.check(value)
        if reason:
            problems.append(f"{node_id} ({node.type}): {param_name} {reason}")
            continue
        graph.set_param(node_id, param_name, value)
    if problems:
        raise UsageError(problems)


def _gui(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        build_parser().print_help()
        return EXIT_OK
    problem = no_display_reason(os.environ, sys.platform)
    if problem:  # Qt would blame a missing xcb-cursor library, then abort
        print(f"studio: {problem}; to render without a window use `studio run GRAPH`", file=sys.stderr)
        return EXIT_INVALID
    from studio.ui.app import run_app

    return run_app(argv)


def no_display_reason(environ: Any, platform: str) -> str | None:
    """Why the window could not open on this Linux or BSD session (no X11 or Wayland display), else None."""
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    chosen = environ.get("QT_QPA_PLATFORM", "")
    names = [part.split(":")[0].strip().lower() for part in chosen.split(";") if part.strip()]
    for name in names or ["wayland", "xcb"]:
        variable = "DISPLAY" if name == "xcb" else "WAYLAND_DISPLAY" if name.startswith("wayland") else None
        if variable is None or environ.get(variable):
            return None  # offscreen, minimal, eglfs, vnc, … need no display server
    if names:
        return f"no display for QT_QPA_PLATFORM={chosen} (DISPLAY or WAYLAND_DISPLAY is not set)"
    return "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set)"


def _version() -> str:
    from studio import __version__

    return __version__


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


if __name__ == "__main__":
    from studio.cli import main as package_main  # one instance of this module, so commands' UsageError is this one

    sys.exit(package_main())
