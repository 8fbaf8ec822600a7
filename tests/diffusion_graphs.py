"""Graph builders and a direct node runner shared by the diffusion tests and benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.engine.context import CancelToken, RunContext, RunSettings
from studio.graph.model import Graph, Link, Node


def text_to_image_graph(
    model_path: Path,
    *,
    prompt: str = "a red cat",
    negative: str | None = None,
    width: int = 32,
    height: int = 32,
    frames: int = 1,
    steps: int = 2,
    cfg: float = 7.5,
    seed: int = 42,
    scheduler: str = "default",
) -> Graph:
    """LoadModel → TextEncode (→ negative) → EmptyLatent → Sampler → VAEDecode → PreviewVideo."""
    graph = Graph()
    graph.add_node(Node("load", "LoadModel", {"path": str(model_path)}))
    graph.add_node(Node("encode", "TextEncode", {"text": prompt}))
    graph.add_node(Node("empty", "EmptyLatent", {"width": width, "height": height, "frames": frames, "batch": 1}))
    graph.add_node(
        Node("sampler", "Sampler", {"steps": steps, "cfg": cfg, "seed": seed, "scheduler": scheduler, "denoise": 1.0})
    )
    graph.add_node(Node("decode", "VAEDecode", {"tiled": False}))
    graph.add_node(Node("preview", "PreviewVideo", {}))
    links = [
        ("load", "model", "encode", "model"),
        ("load", "model", "empty", "model"),
        ("load", "model", "sampler", "model"),
        ("encode", "conditioning", "sampler", "positive"),
        ("empty", "latent", "sampler", "latent"),
        ("load", "model", "decode", "model"),
        ("sampler", "latent", "decode", "latent"),
        ("decode", "frames", "preview", "frames"),
    ]
    if negative is not None:
        graph.add_node(Node("negative", "TextEncode", {"text": negative}))
        links += [("load", "model", "negative", "model"), ("negative", "conditioning", "sampler", "negative")]
    for link in links:
        graph.connect(Link(*link))
    return graph


def make_context(node_type: str, *, settings: RunSettings | None = None, previews: list | None = None) -> RunContext:
    """A RunContext for calling a node's compute directly (CPU, float32)."""
    sink = previews if previews is not None else []
    return RunContext(
        node_id=node_type.lower(),
        node_type=node_type,
        device="cpu",
        dtype="float32",
        settings=settings or RunSettings(),
        cancel=CancelToken(),
        emit_progress=lambda done, total: None,
        emit_preview=lambda image, step, total: sink.append((image, step, total)),
    )


def run_node(registry: Any, node_type: str, /, **values: Any) -> dict[str, Any]:
    """Call one node type's compute with defaults for the parameters not given."""
    spec = registry[node_type]
    arguments = {p.name: None for p in spec.inputs}
    arguments.update(spec.default_params())
    arguments.update(values)
    return spec.compute(make_context(node_type), **arguments)


def load_model_handle(folder: Any) -> Any:
    """A ModelHandle for ``folder``, loaded through the LoadModel node as a graph would."""
    from studio.composition import default_registry

    return run_node(default_registry(plugins=False), "LoadModel", path=str(folder))["model"]


def decode_latent(model: Any, latent: Any) -> Any:
    """The model adapter's decoded frames for ``latent`` (float, before uint8 rounding)."""
    import torch

    with torch.no_grad():
        return model.adapter.decode(model, latent, False, lambda: None)
