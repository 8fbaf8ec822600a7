"""The Python API side of each hostile case: ``python tests/hostile_api.py CALL ARGS…``."""

from __future__ import annotations

import sys
from pathlib import Path


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
    sys.exit(api_main(sys.argv[1:]))
