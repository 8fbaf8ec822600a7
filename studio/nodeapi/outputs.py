"""Writing a node's output file: numbered, confined to the output folder, atomic, carrying its graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from studio.files import UnsafePathError, atomic_path, numbered_path, remove_stale_partials
from studio.nodeapi.context import NodeContext
from studio.nodeapi.errors import NodeError


def graph_metadata(ctx: NodeContext) -> dict[str, str]:
    """Container tags holding the graph being run, so the file can restore it."""
    from studio.media.video_io import GRAPH_TAG

    if ctx.graph_document is None:
        return {}
    return {GRAPH_TAG: json.dumps(ctx.graph_document, separators=(",", ":"), ensure_ascii=False)}


def write_numbered(ctx: NodeContext, filename_prefix: str, suffix: str, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` and move the result to the next free ``<prefix>_NNNNN<suffix>``.

    The prefix must stay inside the output folder; a failed or cancelled ``write`` leaves no
    file; an existing file is never overwritten (another writer taking a number is retried).
    Temporary files that killed runs left in the target folder are removed first.
    """
    for attempt in range(100):
        try:
            target = numbered_path(ctx.output_dir, filename_prefix, suffix)
        except UnsafePathError as exc:
            raise NodeError(f"filename_prefix {exc}") from None
        if attempt == 0:
            _sweep(ctx, target.parent)
        try:
            with atomic_path(target, overwrite=False) as tmp:
                write(tmp)
        except FileExistsError:
            continue
        return target
    raise NodeError(f"filename_prefix: no free file name for {filename_prefix!r}")


def _sweep(ctx: NodeContext, folder: Path) -> None:
    removed = remove_stale_partials(folder)
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (", …" if len(removed) > 3 else "")
        ctx.logger.info("removed %d unfinished file(s) left by interrupted runs in %s: %s", len(removed), folder, names)
