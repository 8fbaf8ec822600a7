"""Extend and Bridge on real image-to-video models, headless: shots rendered with a tiny Wan 2.1 I2V
(and FLF2V) model are put on a timeline, their Extend/Bridge graphs are made by
studio.timeline.generate and rendered by the engine, and the results are placed on the cut.

These families condition on the images natively (the encoded frames enter the transformer beside the
latents), not by the starter's training-free latent replacement, so the check is exact: the generated
sampler takes the model's native image mode with exactly the shot's last frame (and, for a bridge, the
next shot's first frame) as read back from the shots' files, and the generated shot equals
WanImageToVideoPipeline's output for those frames. (The tiny models are random: their pictures barely
depend on the images and do not resemble them; a trained model's do.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_wan_i2v import picture
from tiny_models import build_wan_i2v

from studio.graph import Graph, Link, Node, loads_graph
from studio.timeline import Timeline
from studio.timeline.generate import bridge_shots_graph, extend_shot_graph, place_after, place_between

pytestmark = pytest.mark.ml
WIDTH, HEIGHT, FRAMES = 32, 16, 9
# Our run's frames are uint8 (PreviewVideo); the pipeline's are float: one quantisation step apart at most.
TOLERANCE = 1.5 / 255


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return build_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-i2v")


@pytest.fixture(scope="module")
def flf2v_folder(tmp_path_factory):
    return build_wan_i2v(tmp_path_factory.mktemp("models") / "tiny-wan-flf2v", last_frame=True)


@pytest.fixture
def conditioned(monkeypatch) -> list[tuple]:
    """(image mode, first_frame, last_frame) of every Wan run that had an image, in order."""
    from nodes.diffusion.families import wan_i2v

    seen, prepare = [], wan_i2v.prepare

    def recording(pipe, job, mode, *args):
        latents, conditioning = prepare(pipe, job, mode, *args)
        seen.append((conditioning.mode, job.first_frame, job.last_frame))
        return latents, conditioning

    monkeypatch.setattr(wan_i2v, "prepare", recording)
    return seen


@pytest.fixture
def engine(registry, families, tmp_path, monkeypatch):
    from diffusers.pipelines.wan import pipeline_wan, pipeline_wan_i2v

    from studio.engine import Engine
    from studio.engine.context import RunSettings

    # diffusers 0.42's image-to-video module calls ftfy even when it is not installed (as test_wan_i2v).
    monkeypatch.setattr(pipeline_wan_i2v, "basic_clean", pipeline_wan.basic_clean)
    return Engine("cpu", registry=registry, families=families, settings=RunSettings(output_dir=tmp_path / "out"))


def shot_graph(model: Path, first: Path, last: Path | None = None, prompt: str = "a red cat runs") -> Graph:
    """LoadModel → TextEncode ×2 → EmptyLatent, LoadImage → Sampler(first_frame[, last_frame]) →
    VAEDecode → SaveVideo and PreviewVideo (the frames before encoding, to compare exactly)."""
    graph = Graph()
    graph.add_node(Node("model", "LoadModel", {"path": str(model)}))
    graph.add_node(Node("prompt", "TextEncode", {"text": prompt}))
    graph.add_node(Node("negative", "TextEncode", {"text": "a blue sky"}))
    graph.add_node(Node("empty", "EmptyLatent", {"width": WIDTH, "height": HEIGHT, "frames": FRAMES, "batch": 1}))
    graph.add_node(Node("start", "LoadImage", {"path": str(first)}))
    graph.add_node(Node("sampler", "Sampler", {"steps": 2, "cfg": 6.0, "seed": 42}))
    graph.add_node(Node("decode", "VAEDecode", {}))
    graph.add_node(Node("save", "SaveVideo", {"filename_prefix": "shot", "crf": 10}))
    graph.add_node(Node("preview", "PreviewVideo", {}))
    links = [
        ("model", "model", "prompt", "model"),
        ("model", "model", "negative", "model"),
        ("model", "model", "empty", "model"),
        ("model", "model", "sampler", "model"),
        ("model", "model", "decode", "model"),
        ("prompt", "conditioning", "sampler", "positive"),
        ("negative", "conditioning", "sampler", "negative"),
        ("empty", "latent", "sampler", "latent"),
        ("start", "image", "sampler", "first_frame"),
        ("sampler", "latent", "decode", "latent"),
        ("decode", "frames", "save", "frames"),
        ("decode", "frames", "preview", "frames"),
    ]
    if last is not None:
        graph.add_node(Node("end", "LoadImage", {"path": str(last)}))
        links.append(("end", "image", "sampler", "last_frame"))
    for link in links:
        graph.connect(Link(*link))
    return graph


def image_file(folder: Path, seed: int) -> Path:
    import cv2

    path = folder / f"picture-{seed}.png"
    cv2.imwrite(str(path), cv2.cvtColor(picture(seed, HEIGHT, WIDTH), cv2.COLOR_RGB2BGR))
    return path


def render(engine, graph: Graph) -> tuple[Path, np.ndarray]:
    """The run's video file and its frames as floats in 0..1 (before encoding)."""
    report = engine.run(graph)
    assert all(n.status in ("ran", "cached") for n in report.nodes.values()), report.nodes
    videos = [p for p in report.files() if p.suffix == ".mp4"]
    assert len(videos) == 1, report.files()
    return videos[0], report.outputs["preview"]["frames"].array.astype(np.float32) / 255.0


def add_rendered(timeline: Timeline, video: Path) -> None:
    """As the timeline dock adds a finished render: the shot keeps the graph embedded in its file."""
    from studio.graph import graph_to_dict
    from studio.media.video_io import read_embedded_graph_text

    graph = graph_to_dict(loads_graph(read_embedded_graph_text(video), source=str(video)))
    timeline.add_shot(video, FRAMES, graph=graph)


def file_frame(video: Path, index: int) -> np.ndarray:
    from studio.media.video_io import read_video

    return read_video(video)[0].array[index]


def pipeline_frames(folder: Path, first: np.ndarray, last: np.ndarray | None = None) -> np.ndarray:
    """WanImageToVideoPipeline's clip for the shot graph's prompts, size, steps and seed."""
    import torch
    from diffusers import WanImageToVideoPipeline
    from PIL import Image

    pipe = WanImageToVideoPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe(
        image=Image.fromarray(first),
        last_image=None if last is None else Image.fromarray(last),
        prompt="a red cat runs",
        negative_prompt="a blue sky",
        height=HEIGHT,
        width=WIDTH,
        num_frames=FRAMES,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max())


def test_extend_on_an_image_to_video_model_starts_from_the_shots_last_frame(engine, conditioned, i2v_folder, tmp_path):
    timeline = Timeline(rate=16)
    for seed in (1, 2):
        add_rendered(timeline, render(engine, shot_graph(i2v_folder, image_file(tmp_path, seed)))[0])
    shot = timeline.shots()[0]

    graph = extend_shot_graph(timeline, 0)
    assert "start" not in graph  # the shot's own LoadImage fed only first_frame: replaced, not left over
    video, ours = render(engine, graph)
    index = place_after(timeline, 0, video, graph)

    assert index == 1 and [s.path for s in timeline.shots()][:2] == [shot.path, video.resolve()]
    last = file_frame(shot.path, -1)
    mode, first_frame, last_frame = conditioned[-1]
    assert mode == "image-to-video" and last_frame is None
    assert np.array_equal(first_frame, last)
    expected = pipeline_frames(i2v_folder, last)
    print(f"Extend (Wan I2V): max abs difference {difference(ours, expected):.4f} from the pipeline")
    assert difference(ours, expected) <= TOLERANCE

    # A bridge needs a model that can end on a frame: this one says so, by name, and nothing is placed.
    report = engine.run(bridge_shots_graph(timeline, 1))
    assert "not trained with a last frame" in report.failed["sampler"].error


def test_bridge_on_a_first_last_frame_model_leads_from_one_shot_into_the_next(
    engine, conditioned, flf2v_folder, tmp_path
):
    timeline = Timeline(rate=16)
    for first, last in ((1, 2), (3, 4)):
        graph = shot_graph(flf2v_folder, image_file(tmp_path, first), image_file(tmp_path, last))
        add_rendered(timeline, render(engine, graph)[0])
    one, two = timeline.shots()

    graph = bridge_shots_graph(timeline, 0)
    assert "start" not in graph and "end" not in graph  # the shot's own images are replaced
    video, ours = render(engine, graph)
    index = place_between(timeline, 0, video, graph)

    assert index == 1 and [s.path for s in timeline.shots()] == [one.path, video.resolve(), two.path]
    start, end = file_frame(one.path, -1), file_frame(two.path, 0)
    mode, first_frame, last_frame = conditioned[-1]
    assert mode == "image-to-video"
    assert np.array_equal(first_frame, start) and np.array_equal(last_frame, end)
    assert not np.array_equal(start, end)
    expected = pipeline_frames(flf2v_folder, start, end)
    print(f"Bridge (Wan FLF2V): max abs difference {difference(ours, expected):.4f} from the pipeline")
    assert difference(ours, expected) <= TOLERANCE
