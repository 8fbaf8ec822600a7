"""Train the bundled starter model from procedural clips, on the CPU, in three resumable stages.

    .venv/bin/python scripts/train_starter/train.py --run /work/starter-runs/final \
        --export resources/models/starter

Stages (each skipped when its output already exists, each checkpointed so a killed run resumes):
1. ``vae``: AutoencoderKLWan trained as a reconstruction autoencoder on random clips.
2. ``latents``: a fixed set of training clips encoded once (posterior mode); per-channel mean and
   std go into the VAE config as ``latents_mean``/``latents_std``, as WanPipeline expects.
3. ``denoiser``: WanTransformer3DModel and the UMT5 text encoder trained jointly with flow
   matching (the target is noise − clean latent, as FlowMatch/UniPC flow schedulers step), with
   10% of captions dropped to "" so classifier-free guidance works; an EMA of the weights is kept.
Then the EMA weights are exported as a diffusers folder that ``WanPipeline.from_pretrained`` loads.
Every random draw comes from ``--seed``; see README.md for the settings and measured times.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402
import model  # noqa: E402


def log(run: Path, message: str) -> None:
    line = f"{time.strftime('%H:%M:%S')} {message}"
    print(line, flush=True)
    with open(run / "train.log", "a") as f:
        f.write(line + "\n")


def save_atomic(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def clip_batch(
    rng: np.random.Generator, n: int, layout: str = "centred"
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[str, ...]]]:
    """n random training clips in -1..1, a per-pixel loss weight (shape pixels count more), attributes."""
    clips, attrs = [], []
    for _ in range(n):
        clip, _, attr = data.sample_clip(rng, layout=layout)
        clips.append(clip)
        attrs.append(attr)
    clips = np.stack(clips)
    background = clips[:, :1, :1, :1, :].astype(np.int16)  # a corner is always background
    shape = (np.abs(clips.astype(np.int16) - background).max(-1) > 8).astype(np.float32)
    weight = torch.from_numpy(1.0 + 4.0 * shape[:, None])  # [B, 1, F, H, W]
    return torch.from_numpy(data.to_tensor_range(clips)), weight, attrs


def latent_mask(weight: torch.Tensor) -> torch.Tensor:
    """Which latent cells the shape touches: [B, 1, F, H, W] pixel weights → bool [B, 1, T, H/8, W/8].

    Latent frame 0 is pixel frame 0 and each later latent frame covers the next four pixel
    frames, as in the Wan VAE's causal temporal compression; 8×8 pixels make a latent cell.
    """
    shape = (weight > 1).float()
    b, c, f, h, w = shape.shape
    rest = shape[:, :, 1:].reshape(b, c, (f - 1) // 4, 4, h, w).amax(3)
    frames = torch.cat([shape[:, :, :1], rest], dim=2)
    return torch.nn.functional.max_pool3d(frames, (1, 8, 8)) > 0


# ---------------------------------------------------------------- stage 1: VAE
def train_vae(run: Path, vae: torch.nn.Module, args: argparse.Namespace) -> None:
    final = run / "vae_final.pt"
    if final.exists():
        vae.load_state_dict(torch.load(final))
        return
    ckpt_path = run / "vae_ckpt.pt"
    opt = torch.optim.Adam([p for p in vae.parameters() if p.requires_grad], lr=args.vae_lr)
    step, rng = 0, np.random.default_rng(args.seed)
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        vae.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, rng.bit_generator.state = ckpt["step"], ckpt["rng"]
        torch.set_rng_state(ckpt["torch_rng"])
        log(run, f"vae: resumed at step {step}")
    vae.train()
    start, running = time.time(), None
    total = args.vae_frame_steps + args.vae_steps
    while step < total:
        # First single frames (cheap, varied: the spatial path), then whole clips (the temporal path).
        frames_only = step < args.vae_frame_steps
        phase_step, phase_steps = (
            (step, args.vae_frame_steps) if frames_only else (step - args.vae_frame_steps, args.vae_steps)
        )
        peak = args.vae_lr if frames_only else args.vae_clip_lr
        lr = peak * 0.5 * (1 + math.cos(math.pi * phase_step / phase_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        if frames_only:
            x, weight, _ = clip_batch(rng, args.vae_frame_batch, "anywhere")
            pick = torch.from_numpy(rng.integers(data.FRAMES, size=len(x)))
            x = x[torch.arange(len(x)), :, pick].unsqueeze(2)
            weight = weight[torch.arange(len(x)), :, pick].unsqueeze(2)
        else:
            x, weight, _ = clip_batch(rng, args.vae_batch, "anywhere")
        posterior = vae.encode(x).latent_dist
        # The posterior mean, not a sample: with a near-zero KL weight the initial unit variance
        # would only drown the signal; the diffusion model is trained on the mean too.
        recon = vae.decode(posterior.mode()).sample
        err = recon - x
        rec = (weight * (err.abs() + err.square())).mean()
        kl = posterior.kl().mean() / (x[0].numel())
        loss = rec + args.vae_kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        running = rec.item() if running is None else 0.95 * running + 0.05 * rec.item()
        if step % 10 == 0 or step == total:
            log(
                run,
                f"vae step {step}/{total} {'frames' if frames_only else 'clips'} rec {running:.4f} kl {kl.item():.3f} lr {lr:.2e} "
                f"{(time.time() - start) / 60:.1f} min",
            )
        if step % 50 == 0:
            save_atomic(
                {
                    "model": vae.state_dict(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                },
                ckpt_path,
            )
    save_atomic(vae.state_dict(), final)


# ---------------------------------------------------------------- stage 2: latents
def encode_latents(run: Path, vae: torch.nn.Module, args: argparse.Namespace) -> dict:
    path = run / "latents.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    vae.eval()
    rng = np.random.default_rng(args.seed + 1)
    chunks, masks, attrs = [], [], []
    start = time.time()
    with torch.no_grad():
        while len(attrs) < args.latent_clips:
            x, weight, a = clip_batch(rng, 64)
            chunks.append(vae.encode(x).latent_dist.mode())
            masks.append(latent_mask(weight))
            attrs += a
            if len(attrs) % 1024 == 0:
                log(run, f"latents {len(attrs)}/{args.latent_clips} {(time.time() - start) / 60:.1f} min")
    z = torch.cat(chunks)[: args.latent_clips]
    mean = z.mean(dim=(0, 2, 3, 4))
    std = z.std(dim=(0, 2, 3, 4))
    shape = (1, -1, 1, 1, 1)
    out = {
        "latents": ((z - mean.view(shape)) / std.view(shape)).contiguous(),
        "shape": torch.cat(masks)[: args.latent_clips],
        "attrs": attrs[: args.latent_clips],
        "mean": mean.tolist(),
        "std": std.tolist(),
    }
    save_atomic(out, path)
    return out


# ---------------------------------------------------------------- stage 3: denoiser
class PaddedCrossAttention:
    """Cross-attention over a short text context that weighs its zero padding as WanPipeline's.

    WanPipeline zero-pads prompt embeddings to 512 tokens and the transformer attends to all of
    them; every padding token gives the same key and value. Attending to ``L`` tokens with the
    ``L - n`` padding logits raised by log((512 - n) / (L - n)) is the same softmax, ~8× cheaper.
    """

    def __init__(self) -> None:
        from diffusers.models.transformers.transformer_wan import WanAttnProcessor

        self.inner = WanAttnProcessor()
        self.bias: torch.Tensor | None = None

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
        return self.inner(attn, hidden_states, encoder_hidden_states, self.bias, rotary_emb)


def short_context(tokenizer, text_encoder, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of ``prompts`` with at least one zero padding token, and the padding bias."""
    batch = tokenizer(prompts, padding="longest", return_tensors="pt", add_special_tokens=True)
    ids, mask = batch.input_ids, batch.attention_mask
    hidden = text_encoder(ids, mask).last_hidden_state * mask.unsqueeze(-1)
    hidden = torch.cat([hidden, hidden.new_zeros(hidden.shape[0], 1, hidden.shape[2])], dim=1)
    n = mask.sum(1, keepdim=True).float()  # real tokens per prompt
    length = hidden.shape[1]
    positions = torch.arange(length).unsqueeze(0)
    multiplicity = torch.log((model.MAX_SEQUENCE_LENGTH - n) / (length - n))
    bias = torch.where(positions >= n, multiplicity, torch.zeros(()))
    return hidden, bias[:, None, None, :]


def sample_sigmas(rng: torch.Generator, n: int, shift: float = 1.0) -> torch.Tensor:
    """Noise levels: logit-normal (most mass mid-way), a quarter uniform so both ends are trained.

    ``shift`` > 1 moves them toward pure noise as a flow-matching scheduler's ``flow_shift``
    moves its sampling steps (σ' = shift·σ / (1 + (shift − 1)·σ)): where the layout, and with it
    the motion, is decided.
    """
    logit = torch.sigmoid(torch.randn(n, generator=rng))
    uniform = torch.rand(n, generator=rng)
    pick = torch.rand(n, generator=rng) < 0.25
    sigma = torch.where(pick, uniform, logit)
    sigma = shift * sigma / (1 + (shift - 1) * sigma)
    return sigma.clamp(1e-3, 1.0)


def train_denoiser(run: Path, parts: dict, fast_tokenizer, latents: dict, args: argparse.Namespace) -> None:
    transformer, text_encoder = parts["transformer"], parts["text_encoder"]
    final = run / "denoiser_final.pt"
    if final.exists():
        state = torch.load(final)
        transformer.load_state_dict(state["transformer"])
        text_encoder.load_state_dict(state["text_encoder"])
        return
    params = list(transformer.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01, betas=(0.9, 0.99))
    ema = [p.detach().clone() for p in params]
    ckpt_path = run / "denoiser_ckpt.pt"
    step = 0
    gen = torch.Generator().manual_seed(args.seed + 2)
    rng = np.random.default_rng(args.seed + 3)
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, weights_only=False)
        transformer.load_state_dict(ckpt["transformer"])
        text_encoder.load_state_dict(ckpt["text_encoder"])
        opt.load_state_dict(ckpt["opt"])
        ema = ckpt["ema"]
        step, rng.bit_generator.state = ckpt["step"], ckpt["rng"]
        gen.set_state(ckpt["gen"])
        log(run, f"denoiser: resumed at step {step}")
    processors = {}
    for name, module in transformer.named_modules():
        if name.endswith("attn2"):
            processors[name] = PaddedCrossAttention()
            module.set_processor(processors[name])
    z_all, attrs = latents["latents"], latents["attrs"]
    # Loss weight per latent cell: cells the shape touches count 1 + shape_weight times. The shape
    # touches about a fifth of the cells but carries all of the colour, shape and motion the prompt names.
    cell_weight = 1.0 + args.shape_weight * latents["shape"].float()
    transformer.train()
    text_encoder.train()
    start, running = time.time(), None
    total = args.steps + args.extra_steps
    while step < total:
        if step < args.steps:
            warm = min(1.0, (step + 1) / args.warmup)
            lr = args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        else:  # a second, shorter cosine cycle at half the peak (warm restart)
            cycle = (step - args.steps) / args.extra_steps
            lr = 0.5 * args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * cycle)))
        for group in opt.param_groups:
            group["lr"] = lr
        index = torch.randint(len(attrs), (args.batch,), generator=gen)
        z0 = z_all[index]
        prompts = ["" if rng.random() < args.drop else data.caption(*attrs[i], rng=rng) for i in index.tolist()]
        context, bias = short_context(fast_tokenizer, text_encoder, prompts)
        for processor in processors.values():
            processor.bias = bias
        sigma = sample_sigmas(gen, args.batch, args.sigma_shift)
        noise = torch.randn(z0.shape, generator=gen)
        s = sigma.view(-1, 1, 1, 1, 1)
        zt = (1 - s) * z0 + s * noise
        pred = transformer(hidden_states=zt, timestep=sigma * 1000, encoder_hidden_states=context, return_dict=False)[0]
        w = cell_weight[index]
        loss = (w * (pred - (noise - z0)).square()).mean() / w.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params, strict=True):
                e.lerp_(p.detach(), 1 - decay)
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if step % 25 == 0 or step == total:
            log(
                run,
                f"denoiser step {step}/{total} loss {running:.4f} lr {lr:.2e} {(time.time() - start) / 60:.1f} min",
            )
        if step % args.ckpt_every == 0 or step in (args.steps, total):
            save_atomic(
                {
                    "transformer": transformer.state_dict(),
                    "text_encoder": text_encoder.state_dict(),
                    "opt": opt.state_dict(),
                    "ema": ema,
                    "step": step,
                    "rng": rng.bit_generator.state,
                    "gen": gen.get_state(),
                    "loss": running,
                },
                ckpt_path,
            )
    for e, p in zip(ema, params, strict=True):
        p.data.copy_(e)
    from diffusers.models.transformers.transformer_wan import WanAttnProcessor

    for name, module in transformer.named_modules():
        if name.endswith("attn2"):
            module.set_processor(WanAttnProcessor())
    save_atomic({"transformer": transformer.state_dict(), "text_encoder": text_encoder.state_dict()}, final)


def load_ema_into(parts: dict, ckpt_path: Path) -> int:
    """Copy a denoiser checkpoint's EMA weights into the parts (for exporting mid-run)."""
    ckpt = torch.load(ckpt_path, weights_only=False)
    parts["transformer"].load_state_dict(ckpt["transformer"])
    parts["text_encoder"].load_state_dict(ckpt["text_encoder"])
    params = list(parts["transformer"].parameters()) + list(parts["text_encoder"].parameters())
    for e, p in zip(ckpt["ema"], params, strict=True):
        p.data.copy_(e)
    return int(ckpt["step"])


def export(folder: Path, parts: dict, tokenizer, latents: dict) -> None:
    vae = parts["vae"]
    vae.register_to_config(latents_mean=latents["mean"], latents_std=latents["std"])
    for part in parts.values():
        part.eval()
    model.save_pipeline(folder, tokenizer, vae, parts["text_encoder"], parts["transformer"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="folder for checkpoints and the log (not in git)")
    p.add_argument("--export", type=Path, help="write the trained pipeline here (diffusers folder)")
    p.add_argument("--export-checkpoint", action="store_true", help="export the latest denoiser checkpoint's EMA")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="1 is fastest on a shared 2-core machine")
    p.add_argument("--vae-frame-steps", type=int, default=700, help="VAE steps on single frames")
    p.add_argument("--vae-frame-batch", type=int, default=16)
    p.add_argument("--vae-steps", type=int, default=250, help="VAE steps on whole clips, after the frame steps")
    p.add_argument("--vae-batch", type=int, default=4)
    p.add_argument("--vae-lr", type=float, default=6e-3, help="peak learning rate of the frame steps")
    p.add_argument("--vae-clip-lr", type=float, default=2e-3, help="peak learning rate of the clip steps")
    p.add_argument("--vae-kl", type=float, default=1e-4)
    p.add_argument("--latent-clips", type=int, default=4096)
    p.add_argument("--steps", type=int, default=2500, help="denoiser steps (main cosine cycle)")
    p.add_argument("--extra-steps", type=int, default=0, help="denoiser steps of a second cycle at half the lr")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument(
        "--shape-weight", type=float, default=4.0, help="extra loss weight of latent cells the shape touches"
    )
    p.add_argument("--sigma-shift", type=float, default=2.0, help="shift training noise levels toward pure noise")
    p.add_argument("--drop", type=float, default=0.1, help="caption dropout for classifier-free guidance")
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--ckpt-every", type=int, default=100)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    started = time.time()
    tokenizer = model.build_tokenizer(data.vocabulary())
    tokenizer_dir = args.run / "tokenizer"
    model.save_tokenizer(tokenizer, tokenizer_dir)
    from transformers import PreTrainedTokenizerFast

    fast_tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_dir))
    parts = model.build_models(tokenizer.get_vocab_size(), args.seed)
    if args.export_checkpoint:
        parts["vae"].load_state_dict(torch.load(args.run / "vae_final.pt"))
        latents = torch.load(args.run / "latents.pt", weights_only=False)
        step = load_ema_into(parts, args.run / "denoiser_ckpt.pt")
        export(args.export, parts, tokenizer, latents)
        log(args.run, f"exported checkpoint at denoiser step {step} to {args.export}")
        return
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    (args.run / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    train_vae(args.run, parts["vae"], args)
    log(args.run, f"vae done {(time.time() - started) / 60:.1f} min since start of this process")
    latents = encode_latents(args.run, parts["vae"], args)
    log(args.run, f"latents done {(time.time() - started) / 60:.1f} min")
    train_denoiser(args.run, parts, fast_tokenizer, latents, args)
    log(args.run, f"denoiser done {(time.time() - started) / 60:.1f} min")
    if args.export:
        export(args.export, parts, tokenizer, latents)
        log(args.run, f"exported to {args.export}")


if __name__ == "__main__":
    main()
