"""LoadModel's attention backend and compile, and the window defaults that reach them.

On the CPU: auto is native and leaves the model as it loaded; a GPU-only or missing backend is a
NodeError before anything loads, naming what to install; flex (PyTorch's own) is set on the
transformer's attention; compile wraps the repeated blocks (lazily: nothing compiles in the test)."""

from __future__ import annotations

import pytest

from studio.nodeapi import NodeError


@pytest.fixture(scope="module")
def wan_folder(tmp_path_factory):
    from tiny_models import build_wan

    return build_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from tiny_models import build_sd

    return build_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


def _load(folder, settings=None, status=None, **params):
    from diffusion_graphs import make_context

    from studio.composition import default_registry

    spec = default_registry(plugins=False)["LoadModel"]
    arguments = spec.default_params() | {"path": str(folder)} | params
    ctx = make_context("LoadModel", settings=settings)
    if status is not None:
        ctx._emit_status = status
    return spec.compute(ctx, **arguments)["model"]


def _backends(model):
    return {
        getattr(m.processor, "_attention_backend", None)
        for m in model.pipeline.transformer.modules()
        if getattr(m, "processor", None) is not None
    }


@pytest.mark.ml
def test_auto_is_native_on_the_cpu_and_a_gpu_backend_needs_cuda():
    from nodes.diffusion.acceleration import resolve_attention

    assert resolve_attention("auto", "cpu", dispatched=True) == "native"
    assert resolve_attention("native", "cpu", dispatched=False) == "native"
    for backend in ("flash", "sage", "xformers"):
        with pytest.raises(NodeError, match=rf"attention {backend} needs a CUDA GPU, but the model runs on cpu"):
            resolve_attention(backend, "cpu", dispatched=True)


@pytest.mark.ml
def test_a_backend_that_is_not_installed_names_what_to_install():
    from diffusers.utils import is_flash_attn_available, is_sageattention_available

    from nodes.diffusion.acceleration import resolve_attention

    if not is_flash_attn_available():
        with pytest.raises(NodeError, match=r"attention flash is not usable: .*install `flash-attn"):
            resolve_attention("flash", "cuda", dispatched=True)
    if not is_sageattention_available():
        with pytest.raises(NodeError, match=r"attention sage is not usable: .*install `sageattention"):
            resolve_attention("sage", "cuda", dispatched=True)
    with pytest.raises(NodeError, match=r"attention flex does not work with this model's attention layers; "):
        resolve_attention("flex", "cpu", dispatched=False)


@pytest.mark.ml
def test_a_backend_this_machine_cannot_run_falls_back_to_native_with_a_note(wan_folder):
    from studio.nodeapi import RunSettings

    said: list[str] = []
    for model in (
        _load(wan_folder, attention="flash", status=said.append),
        _load(wan_folder, RunSettings(attention="sage"), status=said.append),
    ):
        assert _backends(model) == {None}  # native: diffusers' default, untouched
    said = [line for line in said if "attention" in line]
    assert len(said) == 2
    assert "attention flash needs a CUDA GPU, but the model runs on cpu" in said[0]
    assert "attention sage needs a CUDA GPU" in said[1]  # LoadModel's auto follows the window's setting
    assert all(line.endswith("running with native attention instead") for line in said)


@pytest.mark.ml
def test_native_leaves_the_model_as_loaded_and_flex_is_set_on_its_attention(wan_folder):
    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    from studio.nodeapi import RunSettings

    assert _backends(_load(wan_folder)) == {None}  # auto on the CPU: diffusers' default, untouched
    try:
        assert _backends(_load(wan_folder, attention="flex")) == {"flex"}
        assert _backends(_load(wan_folder, RunSettings(attention="flex"))) == {"flex"}
        # A native model loaded after one switched diffusers' process-wide default says native itself.
        assert _backends(_load(wan_folder, attention="native")) == {"native"}
    finally:
        _AttentionBackendRegistry.set_active_backend("native")


@pytest.mark.ml
def test_compile_wraps_the_repeated_blocks_from_the_node_or_the_window(wan_folder, sd_folder):
    from studio.nodeapi import RunSettings

    def compiled(module):
        return getattr(module, "_compiled_call_impl", None) is not None

    plain = _load(wan_folder)
    assert not any(compiled(m) for m in plain.pipeline.transformer.modules())
    for model in (_load(wan_folder, compile=True), _load(wan_folder, RunSettings(compile=True))):
        blocks = model.pipeline.transformer.blocks
        assert all(compiled(block) for block in blocks) and not compiled(model.pipeline.transformer)
    unet = _load(sd_folder, compile=True).pipeline.unet
    repeated = [m for m in unet.modules() if type(m).__name__ == "BasicTransformerBlock"]
    assert repeated and all(compiled(m) for m in repeated)


@pytest.mark.ml
def test_a_denoiser_without_repeated_blocks_is_compiled_whole():
    import torch

    from nodes.diffusion.acceleration import compile_model

    class Pipe:
        transformer = torch.nn.Linear(2, 2)

    class Handle:
        pipeline = Pipe()

    notes = []
    compile_model(Handle(), notes.append)
    assert Pipe.transformer._compiled_call_impl is not None
    assert notes == ["compiling Linear on its first run"]


def test_window_settings_keep_attention_and_compile_and_drop_unknown_backends(tmp_path):
    import json

    from studio.settings import Settings

    path = tmp_path / "settings.json"
    Settings(attention="sage", compile=True).save(path)
    loaded = Settings.load(path)
    assert (loaded.attention, loaded.compile) == ("sage", True)
    path.write_text(json.dumps({"attention": "warp-drive", "compile": "yes"}), "utf-8")
    loaded = Settings.load(path)
    assert (loaded.attention, loaded.compile) == ("auto", False)
