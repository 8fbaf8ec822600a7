"""A model-family pack as a third party would write one: a declaration, registered by entry point."""

from studio.nodeapi import FamilySpec


class ToyAdapter:
    def __init__(self, spec: FamilySpec) -> None:
        self.spec = spec


def recognise_toy(tensors):
    shape = tensors.get("toy.proj.weight")
    return f"Toy {shape[0]}" if shape else None


def toy_families():
    return [
        FamilySpec(name="toy", label="Toy", pipelines=("ToyPipeline",), recognise=recognise_toy, adapter=ToyAdapter)
    ]


def broken_families():
    raise RuntimeError("this pack is broken")
