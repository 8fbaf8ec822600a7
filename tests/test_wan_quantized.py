"""Quantized Wan files as ComfyUI users have them: a GGUF transformer (city96's ComfyUI-GGUF layout, Q8_0)
and fp8 transformers and UMT5 encoders (plain e4m3fn, and ComfyUI's scaled fp8).

The references are diffusers and transformers loading the same quantized weights: diffusers' own GGUF
loading of the same file, and the fp8 files' dequantized weights (W8 × scale) loaded in the compute
dtype. The tolerance is the one the unquantized equality tests use (1e-4): the GGUF layers dequantize
with diffusers' own code, and an fp8 layer upcasts exactly the values the reference holds (fp8 → float32
is exact, the scale is applied in float32 and rounded once, as the reference's weights are), so the
only differences possible are in the order of floating-point operations, and there are none: every
difference measured here is 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from diffusion_graphs import decode_latent, make_context, run_node
from wan_layouts import (
    comfy_umt5,
    dequantized,
    linear_weights,
    original_transformer,
    save,
    save_gguf,
    to_fp8,
    train_spiece,
    wan_components,
    write_comfy_tree,
)

from studio.engine.context import NodeError, RunSettings

pytestmark = pytest.mark.ml
TOLERANCE = 1e-4  # as tests/test_wan_files.py
PROMPT, NEGATIVE = "a red cat runs", "a blue sky"
COMFY_PREFIX = "model.diffusion_model."


@pytest.fixture(scope="module")
def spiece():
    return train_spiece()


@pytest.fixture(scope="module")
def components(spiece):
    return wan_components(spiece)


@pytest.fixture(scope="module")
def comfy(components, spiece, tmp_path_factory):
    return write_comfy_tree(components, spiece, tmp_path_factory.mktemp("comfyui") / "models")


@pytest.fixture(scope="module")
def gguf_file(components, tmp_path_factory):
    state = original_transformer(components["transformer"].state_dict())
    return save_gguf(state, tmp_path_factory.mktemp("gguf") / "wan2.1-t2v-1.3b-Q8_0.gguf")


def _load(registry, path, **parts):
    values = {"path": str(path), "family": "auto", "dtype": "auto", "offload": "none", "config": ""}
    values |= {"text_encoder": "", "vae": "", "image_encoder": ""}
    values |= {name: str(value) for name, value in parts.items()}
    return registry["LoadModel"].compute(make_context("LoadModel", settings=RunSettings()), **values)["model"]


def _render(registry, model):
    positive = run_node(registry, "TextEncode", model=model, text=PROMPT)["conditioning"]
    negative = run_node(registry, "TextEncode", model=model, text=NEGATIVE)["conditioning"]
    latent = run_node(registry, "EmptyLatent", model=model, width=32, height=16, frames=9)["latent"]
    values = dict(positive=positive, negative=negative, latent=latent, steps=2, cfg=6.0, seed=42)
    return decode_latent(model, run_node(registry, "Sampler", model=model, **values)["latent"])


def _reference(components, **parts):
    """Frames of diffusers' WanPipeline over the tiny pipeline's components, ``parts`` replaced."""
    import torch
    from diffusers import WanPipeline

    pipe = WanPipeline(**{**components, **parts})
    pipe.set_progress_bar_config(disable=True)
    return pipe(
        PROMPT,
        negative_prompt=NEGATIVE,
        height=16,
        width=32,
        num_frames=9,
        num_inference_steps=2,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(42),
        output_type="np",
    ).frames[0]


def _parameter_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _dequantized_models(components, q_transformer, q_text_encoder):
    """The tiny transformer and text encoder holding an fp8 state's dequantized weights (float32)."""
    import torch
    from diffusers import WanTransformer3DModel
    from transformers import UMT5EncoderModel

    transformer = WanTransformer3DModel.from_config(components["transformer"].config)
    transformer.load_state_dict(dequantized(q_transformer))
    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(components["text_encoder"].config)
    text_encoder.load_state_dict(dequantized(q_text_encoder))
    return transformer.eval(), text_encoder.eval()


def test_gguf_transformer_renders_like_diffusers_loading_the_same_file(
    registry, families, components, comfy, gguf_file, tmp_path
):
    import torch
    from diffusers import GGUFQuantizationConfig, WanTransformer3DModel

    from studio.nodeapi.weights import gguf_tensors

    stored = gguf_tensors(gguf_file)
    assert stored["blocks.0.self_attn.q.weight"].dtype == "Q8_0" and stored["head.modulation"].dtype == "F32"
    assert families.of_file(gguf_file)[0].name == "wan"  # family=auto reads the logical shapes

    model = _load(registry, gguf_file, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
    transformer = model.pipeline.transformer
    layer = transformer.blocks[0].attn1.to_q
    assert type(layer).__name__ == "GGUFLinear" and layer.weight.quant_type.name == "Q8_0"
    assert layer.weight.dtype == torch.uint8 and layer.compute_dtype == torch.float32

    components["transformer"].save_config(tmp_path / "transformer")
    theirs = WanTransformer3DModel.from_single_file(
        str(gguf_file),
        config=str(tmp_path / "transformer"),
        quantization_config=GGUFQuantizationConfig(compute_dtype=torch.float32),
        local_files_only=True,
    )
    expected = _reference(components, transformer=theirs)
    assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE
    assert _parameter_bytes(transformer) < _parameter_bytes(components["transformer"]) / 2


@pytest.mark.parametrize("scaled", [False, True], ids=["fp8_e4m3fn", "fp8_e4m3fn_scaled"])
def test_fp8_files_render_like_their_dequantized_weights(registry, components, comfy, spiece, scaled, tmp_path):
    import torch

    transformer, text_encoder = components["transformer"], components["text_encoder"]
    q_transformer = to_fp8(transformer.state_dict(), linear_weights(transformer), scaled=scaled)
    q_text_encoder = to_fp8(text_encoder.state_dict(), linear_weights(text_encoder), scaled=scaled)
    suffix = "_scaled" if scaled else ""
    files = {
        "path": save(
            original_transformer(q_transformer),
            tmp_path / f"wan2.1_t2v_1.3B_fp8_e4m3fn{suffix}.safetensors",
            COMFY_PREFIX if scaled else "",  # ComfyUI's own scaled files carry its prefix
        ),
        "text_encoder": save(comfy_umt5(q_text_encoder, spiece), tmp_path / f"umt5_xxl_fp8_e4m3fn{suffix}.safetensors"),
    }
    model = _load(registry, files["path"], text_encoder=files["text_encoder"], vae=comfy["vae"])
    reference_transformer, reference_text_encoder = _dequantized_models(components, q_transformer, q_text_encoder)
    expected = _reference(components, transformer=reference_transformer, text_encoder=reference_text_encoder)
    assert np.abs(_render(registry, model) - expected).max() <= TOLERANCE

    # The Linear weights stay fp8 in memory, but for those the classes keep in float32 (diffusers' Wan
    # time embedder; UMT5's wo, whose dtype its feed-forward reads).
    def fp8_weights(loaded):
        return {name for name, p in loaded.named_parameters() if p.dtype == torch.float8_e4m3fn}

    ours = model.pipeline.transformer
    assert fp8_weights(ours) == {k for k in linear_weights(transformer) if ".time_embedder." not in k}
    kept = {k for k in linear_weights(text_encoder) if ".wo." not in k}
    assert fp8_weights(model.pipeline.text_encoder) == kept
    assert _parameter_bytes(ours) < _parameter_bytes(reference_transformer) / 2
    assert ours.dtype == model.pipeline.text_encoder.dtype == torch.float32  # the compute dtype


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_fp8_in_half_precision_computes_as_the_dequantized_weights_loaded_in_it(
    components, spiece, dtype_name, tmp_path
):
    import torch
    from diffusers import WanTransformer3DModel

    from nodes.diffusion import text_encoders
    from nodes.diffusion.families.wan_files import load_text_encoder, load_transformer

    dtype = getattr(torch, dtype_name)
    transformer, text_encoder = components["transformer"], components["text_encoder"]
    q_transformer = to_fp8(transformer.state_dict(), linear_weights(transformer), scaled=True)
    q_text_encoder = to_fp8(text_encoder.state_dict(), linear_weights(text_encoder), scaled=True)
    ours = load_transformer(save(original_transformer(q_transformer), tmp_path / "wan.safetensors"), dtype, False)
    reference_transformer, _ = _dequantized_models(components, q_transformer, q_text_encoder)
    reference_transformer.save_pretrained(tmp_path / "transformer")
    theirs = WanTransformer3DModel.from_pretrained(tmp_path / "transformer", dtype=dtype, local_files_only=True)
    for name, tensor in theirs.state_dict().items():
        assert ours.state_dict()[name].dtype in (tensor.dtype, torch.float8_e4m3fn), name
    torch.manual_seed(0)
    latents, text = torch.randn(1, 16, 3, 8, 8).to(dtype), torch.randn(1, 7, 32).to(dtype)
    with torch.no_grad():
        difference = ours(latents, torch.tensor([500]), text)[0] - theirs(latents, torch.tensor([500]), text)[0]
    assert difference.abs().max() <= TOLERANCE

    file = save(comfy_umt5(q_text_encoder, spiece), tmp_path / "umt5.safetensors")
    ours_encoder, _ = load_text_encoder(file, dtype, False)
    state, _ = text_encoders.encoder_state(dequantized(comfy_umt5(q_text_encoder, None)), "reference")
    theirs_encoder = text_encoders.load_umt5(state, dtype, "reference")  # transformers' loader
    ids = torch.tensor([[5, 6, 7, 8, 1, 0, 0]])
    with torch.no_grad():
        difference = (
            ours_encoder(ids, attention_mask=ids.gt(0)).last_hidden_state
            - theirs_encoder(ids, attention_mask=ids.gt(0)).last_hidden_state
        )
    assert difference.abs().max() <= TOLERANCE
    assert ours_encoder.encoder.embed_tokens.weight is ours_encoder.shared.weight


def test_quantized_parts_that_cannot_load_are_named(registry, components, comfy, gguf_file, tmp_path):
    import torch

    with pytest.raises(NodeError, match=r"text_encoder: wan2\.1-t2v-1\.3b-Q8_0\.gguf is a GGUF text encoder"):
        _load(registry, gguf_file, text_encoder=gguf_file, vae=comfy["vae"])
    with pytest.raises(NodeError, match=r"vae: wan2\.1-t2v-1\.3b-Q8_0\.gguf is a GGUF file"):
        _load(registry, gguf_file, text_encoder=comfy["text_encoder"], vae=gguf_file)

    state = original_transformer(components["transformer"].state_dict())
    state["blocks.0.self_attn.x.scale_weight"] = torch.ones(())
    stray = save(state, tmp_path / "wan_scaled.safetensors")
    with pytest.raises(NodeError, match=r"blocks\.0\.attn1\.x\.scale_weight scales a weight the file does not have"):
        _load(registry, stray, text_encoder=comfy["text_encoder"], vae=comfy["vae"])
