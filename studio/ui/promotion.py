"""Promoted parameters: a parameter shown as an input port, so another node's wire can drive it.

A parameter is promoted while its name is in the node's ``extra["inputs"]`` (the file format
keeps unknown node keys, so a port without a wire yet survives saving) or while a link goes
into it. While a wire drives it, the engine uses the wire's value instead of the parameter's.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMenu

from studio.graph.model import Node
from studio.graph.spec import NodeSpec
from studio.graph.types import wire_type_for_param

PROMOTED_KEY = "inputs"


def promoted_params(node: Node, spec: NodeSpec | None = None) -> list[str]:
    """The parameter names listed in ``extra["inputs"]`` (only real parameters when ``spec`` is given)."""
    listed = node.extra.get(PROMOTED_KEY)
    if not isinstance(listed, list):
        return []
    names = [n for n in listed if isinstance(n, str)]
    if spec is not None:
        names = [n for n in names if spec.param(n) is not None and spec.input(n) is None]
    return list(dict.fromkeys(names))


def add_promotion_actions(menu: QMenu, scene: Any, node_id: str, focus: str | None = None) -> bool:
    """Add "Drive … from a wire" / "Use … value again" actions for one node to ``menu``.

    ``focus`` is the parameter under the cursor: it gets a direct action; every parameter
    also gets a checkable entry in a "Parameters as inputs" submenu. False when the node has none.
    """
    node = scene.graph.node(node_id)
    spec = scene.registry.get(node.type)
    if spec is None or not spec.params:
        return False
    if focus is not None and spec.param(focus) is not None:
        if scene.is_promoted(node_id, focus):
            menu.addAction(f"Use the value of {focus} again", lambda: scene.use_param_value(node_id, focus))
        else:
            menu.addAction(f"Drive {focus} from a wire", lambda: scene.promote_param(node_id, focus))
    sub = menu.addMenu("Parameters as inputs")
    for param in spec.params:
        wire = wire_type_for_param(param.kind)
        action = sub.addAction(f"{param.name}  ({wire})")
        action.setCheckable(True)
        action.setChecked(scene.is_promoted(node_id, param.name))
        action.toggled.connect(
            lambda on, name=param.name: (
                scene.promote_param(node_id, name) if on else scene.use_param_value(node_id, name)
            )
        )
    return True
