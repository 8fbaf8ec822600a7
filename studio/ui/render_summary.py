"""What a render was, in a few words: its prompt, seed, length and time, read from the graph that
made it (the live job's graph, or the one embedded in a video from an earlier session).

Qt-free, so the history's background reader can use it off the GUI thread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.textsafe import safe

PROMPT_PARAMS = ("text", "prompt")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".m4v", ".avi")
PROMPT_CHARS = 24  # what fits on one line under a thumbnail (the grid is 184 px wide)


@dataclass
class RenderFacts:
    """The facts a history item shows; any may be unknown (None / empty)."""

    prompt: str = ""
    seed: int | None = None
    duration: float | None = None  # seconds of video
    created: float | None = None  # when it was rendered (epoch seconds)
    render_seconds: float | None = None  # how long the run took, when this session ran it

    def label(self, fallback: str) -> str:
        """Two short lines: the prompt, then seed · length · time."""
        first = _elide(" ".join(self.prompt.split()), PROMPT_CHARS) or fallback
        facts = []
        if self.seed is not None:
            facts.append(f"seed {self.seed}")
        if self.duration:
            facts.append(f"{self.duration:.1f} s")
        if self.created is not None:
            facts.append(_when(self.created))
        return safe(first) + ("\n" + " · ".join(facts) if facts else "")

    def tooltip(self, where: str) -> str:
        lines = [safe(self.prompt) if self.prompt else "(no prompt)"]
        if self.seed is not None:
            lines.append(f"seed {self.seed}")
        if self.duration:
            lines.append(f"{self.duration:.2f} s of video")
        if self.render_seconds is not None:
            lines.append(f"rendered in {self.render_seconds:.1f} s")
        if self.created is not None:
            lines.append(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.created)))
        lines += [safe(where), "Click to view · double-click to open its graph"]
        return "\n".join(lines)


def graph_facts(graph: Any) -> RenderFacts:
    """The prompt (the text that feeds a sampler's ``positive``, else the first prompt-like text)
    and the seed (a sampler's, else the first ``seed`` parameter) of a graph."""
    if graph is None:
        return RenderFacts()
    prompt = ""
    for link in graph.links:
        if link.to_port == "positive" and link.from_node in graph:
            prompt = _prompt_of(graph.node(link.from_node).params)
            if prompt:
                break
    nodes = list(graph.nodes)
    if not prompt:
        prompt = next((p for p in (_prompt_of(n.params) for n in nodes) if p), "")
    seed = None
    for node in sorted(nodes, key=lambda n: "sampler" not in n.type.lower()):
        value = node.params.get("seed")
        if isinstance(value, int) and not isinstance(value, bool):
            seed = value
            break
    return RenderFacts(prompt=prompt, seed=seed)


def rendered_videos(folder: Path, limit: int = 60) -> list[Path]:
    """Videos in the output folder and its direct subfolders, newest first (at most ``limit``)."""
    found: list[tuple[float, Path]] = []
    candidates = [folder]
    try:
        candidates += [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()][:64]
    except OSError:
        return []
    for where in candidates:
        try:
            entries = list(where.iterdir())[:2000]  # a huge folder is not read to the end
        except OSError:
            continue
        for path in entries:
            if path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith("."):
                try:
                    if path.is_file():
                        found.append((path.stat().st_mtime, path))
                except OSError:
                    continue
    found.sort(key=lambda item: item[0], reverse=True)
    return [path for _, path in found[:limit]]


def _prompt_of(params: dict[str, Any]) -> str:
    for name in PROMPT_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _elide(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(stamp: float) -> str:
    local = time.localtime(stamp)
    if time.strftime("%Y%m%d", local) == time.strftime("%Y%m%d"):
        return time.strftime("%H:%M", local)
    return time.strftime("%d %b %H:%M", local)
