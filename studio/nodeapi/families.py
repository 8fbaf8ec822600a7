"""Model families: one declaration each, held by a registry object (built-ins + ``studio.families`` packs).

A :class:`FamilySpec` says everything the studio knows about a family of diffusion models:
its name and label, the diffusers pipeline and component classes it uses, how to recognise
it in a diffusers folder (the pipeline class ``model_index.json`` names) and in a single
weights file (tensor names and shapes), its preview factors, and the adapter that drives
its pipeline. The model scanner, LoadModel's detection and the sampler all read the same
declaration, so a new family touches one module, one registration line and its test.

No torch here: declarations are plain data plus small functions over tensor names/shapes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.graph.registry import PluginProblem, load_plugins
from studio.nodeapi.weights import gguf_tensors, read_model_index, tensor_shapes

ENTRY_POINT_GROUP = "studio.families"

Shape = tuple[int, ...]
# Given a single file's tensors (name → shape), the variant it is ("SDXL", "Wan 2.1 T2V 1.3B"), or None.
Recogniser = Callable[[Mapping[str, Shape]], str | None]
RGBFactors = tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class FamilySpec:
    """One model family, declared once (see the module docstring)."""

    name: str  # the id saved in graphs and carried on MODEL/LATENT wires: "sd15", "wan"
    label: str  # shown to people: "Stable Diffusion 1.x/2.x"
    pipelines: tuple[str, ...]  # diffusers pipeline classes; the first is the one models load with
    components: tuple[str, ...] = ()  # diffusers component classes (denoiser first)
    recognise: Recogniser | None = None  # single weights files; None: diffusers folders only
    recognise_lora: Recogniser | None = None  # LoRA files made for this family (their layer names and widths)
    preview_factors: RGBFactors = ()  # latent channel → RGB, applied to the diffusion-space latent
    preview_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)
    adapter: Callable[[FamilySpec], Any] | None = None  # builds, from this spec, what drives the pipeline
    video: bool = False
    order: int = 100  # recognisers run in ascending order: a more specific family goes first

    def __post_init__(self) -> None:
        if not self.name or not self.pipelines:
            raise ValueError("a family needs a name and at least one pipeline class")
        if any(len(row) != 3 for row in self.preview_factors) or len(self.preview_bias) != 3:
            raise ValueError(f"family {self.name!r}: preview factors must be rows of 3 (R, G, B)")


@dataclass
class FamilyRegistry:
    """The families one app or run knows. There is no global registry: callers build their own."""

    _specs: dict[str, FamilySpec] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    _adapters: dict[str, Any] = field(default_factory=dict, repr=False)

    def register(self, spec: FamilySpec, *, replace: bool = False) -> None:
        if not isinstance(spec, FamilySpec):
            raise TypeError(f"expected a FamilySpec, got {type(spec).__name__}")
        if spec.name in self._specs and not replace:
            raise ValueError(f"model family {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        self._adapters.pop(spec.name, None)

    def register_all(self, specs: Iterable[FamilySpec]) -> None:
        for spec in specs:
            self.register(spec)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP, *, skip: Iterable[str] = ()) -> None:
        """Register families from installed packs (each entry point: a callable returning FamilySpecs)."""
        load_plugins(group, FamilySpec, self.register, self.problems, kind="model family pack", skip=skip)

    @classmethod
    def installed(cls) -> FamilyRegistry:
        """Every family installed under ``studio.families`` (the built-ins register there too)."""
        registry = cls()
        registry.load_entry_points()
        return registry

    def get(self, name: str) -> FamilySpec | None:
        return self._specs.get(name)

    def __getitem__(self, name: str) -> FamilySpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[FamilySpec]:
        return iter(sorted(self._specs.values(), key=lambda s: (s.order, s.name)))

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def names(self) -> list[str]:
        return sorted(self._specs)

    def adapter(self, name: str) -> Any:
        """The family's adapter, built once per registry. KeyError for an unknown family."""
        if name not in self._adapters:
            spec = self._specs[name]
            if spec.adapter is None:
                raise KeyError(name)
            self._adapters[name] = spec.adapter(spec)
        return self._adapters[name]

    def of_pipeline(self, class_name: str) -> FamilySpec | None:
        """The family whose pipelines include ``class_name`` (a model_index.json's ``_class_name``)."""
        for spec in self:
            if class_name in spec.pipelines:
                return spec
        return None

    def of_folder(self, folder: str | os.PathLike[str]) -> FamilySpec | None:
        """The family of a diffusers folder, by the pipeline class its ``model_index.json`` names
        (or a ``studio_family`` key). Raises :class:`WeightsFileError` for an unreadable index."""
        index = read_model_index(folder)
        name = index.get("_class_name")
        spec = self.of_pipeline(name) if isinstance(name, str) else None
        if spec is None and isinstance(index.get("studio_family"), str):
            spec = self.get(index["studio_family"])
        return spec

    def of_file(self, path: str | os.PathLike[str]) -> tuple[FamilySpec, str] | None:
        """The family and variant of a single ``.safetensors`` or ``.gguf`` weights file, from its tensor
        names and shapes (a GGUF's logical shapes, not its quantized storage's); None when no family
        recognises it. Raises :class:`WeightsFileError` if unreadable."""
        suffix = Path(path).suffix
        if suffix == ".gguf":
            return self.recognise({name: info.shape for name, info in gguf_tensors(path).items()})
        if suffix != ".safetensors":
            return None
        return self.recognise(tensor_shapes(path))

    def recognise_lora(self, tensors: Mapping[str, Shape]) -> tuple[FamilySpec, str] | None:
        """The first family (by ``order``) that a LoRA file's tensors were made for, with the variant."""
        for spec in self:
            variant = spec.recognise_lora(tensors) if spec.recognise_lora is not None else None
            if variant:
                return spec, variant
        return None

    def recognise(self, tensors: Mapping[str, Shape]) -> tuple[FamilySpec, str] | None:
        """The first family (by ``order``) that recognises a single file's tensors, with the variant."""
        for spec in self:
            if spec.recognise is None:
                continue
            variant = spec.recognise(tensors)
            if variant:
                return spec, variant
        return None
