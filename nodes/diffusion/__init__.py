"""Diffusion nodes over diffusers: LoadModel, TextEncode, EmptyLatent, Sampler, VAEDecode, VAEEncode.

torch, diffusers and transformers are imported inside functions only, so importing this
package (for the catalogue) stays fast.
"""
