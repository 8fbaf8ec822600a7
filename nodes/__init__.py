"""The built-in node library: one module per domain, each declaring its node types once.

Modules import torch, diffusers, PyAV and OpenCV inside functions only, so listing the
catalogue (``studio nodes``) stays fast and needs no GPU.
"""

from __future__ import annotations

from studio.graph.spec import NodeSpec


def builtin_node_types() -> list[NodeSpec]:
    """Every built-in node type. A new node type adds one line here."""
    from nodes import frames, generate, interpolate, media, primitives, upscale, video
    from nodes.diffusion import lora
    from nodes.diffusion import nodes as diffusion

    return [
        generate.make_test_pattern,
        generate.solid_color,
        video.save_video,
        video.preview_video,
        upscale.upscale,
        interpolate.interpolate,
        media.load_image,
        frames.frame_at,
        media.load_video,
        media.load_audio,
        media.mux_audio_node,
        diffusion.load_model_node,
        lora.load_lora,
        diffusion.text_encode,
        diffusion.empty_latent,
        diffusion.sampler,
        diffusion.vae_decode,
        diffusion.vae_encode,
        primitives.int_value,
        primitives.float_value,
        primitives.text_value,
        primitives.seed_value,
        primitives.bool_value,
    ]
