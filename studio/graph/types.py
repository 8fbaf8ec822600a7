"""Names of the types that travel on wires and of the scalar parameter kinds.

Wire types are plain strings so graph files, the CLI catalogue and the editor's port
colours all share one vocabulary (DESIGN.md §3).
"""

from __future__ import annotations

# Data on the wires.
MODEL = "MODEL"
CONDITIONING = "CONDITIONING"
LATENT = "LATENT"
FRAMES = "FRAMES"
AUDIO = "AUDIO"
VIDEO = "VIDEO"
IMAGE = "IMAGE"

WIRE_TYPES = (MODEL, CONDITIONING, LATENT, FRAMES, AUDIO, VIDEO, IMAGE)

# Scalar parameter kinds. A parameter can be promoted to an input, so another node's
# output of a matching scalar type can drive it.
INT = "INT"
FLOAT = "FLOAT"
STRING = "STRING"
BOOL = "BOOL"
CHOICE = "CHOICE"
SEED = "SEED"
PATH = "PATH"

PARAM_KINDS = (INT, FLOAT, STRING, BOOL, CHOICE, SEED, PATH)

# Which wire type can drive a parameter of a given kind once it is promoted to an input.
_PARAM_WIRE = {INT: INT, SEED: INT, FLOAT: FLOAT, STRING: STRING, CHOICE: STRING, PATH: STRING, BOOL: BOOL}


def can_connect(output_type: str, input_type: str) -> bool:
    """Whether an output of ``output_type`` may feed an input of ``input_type``."""
    if output_type == input_type:
        return True
    # An INT output may feed a FLOAT input; nothing else converts implicitly.
    return output_type == INT and input_type == FLOAT


def wire_type_for_param(kind: str) -> str:
    """The wire type a promoted parameter of ``kind`` accepts."""
    return _PARAM_WIRE[kind]
