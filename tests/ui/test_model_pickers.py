"""Model pickers: a parameter that takes models lists the scanned ones of its kinds, found in a
background thread and kept until the model folders change."""

from __future__ import annotations

import json
import struct

import pytest
from PySide6.QtCore import QPointF

from studio.ui.param_widgets import PathEditor

pytestmark = pytest.mark.qt


def write_header(path, tensors: dict[str, tuple[int, ...]], dtype: str = "BF16") -> None:
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 2
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


@pytest.fixture
def comfyui(tmp_path):
    root = tmp_path / "ComfyUI"
    (root / "models").mkdir(parents=True)
    (root / "main.py").write_text("")
    write_header(root / "models" / "vae" / "wan_2.1_vae.safetensors", {"decoder.head.0.gamma": (96, 1, 1, 1)})
    write_header(root / "models" / "loras" / "style.safetensors", {"blocks.0.q.lora_A.weight": (4, 8)})
    write_header(
        root / "models" / "diffusion_models" / "wan_t2v.safetensors", {"patch_embedding.weight": (1536, 16, 1, 2, 2)}
    )
    return root


def picker_items(editor: PathEditor) -> list[str]:
    return [editor.choices.itemText(i) for i in range(editor.choices.count())]


def test_the_vae_picker_lists_the_vae_files_and_not_the_loras(window, qtbot, comfyui, monkeypatch):
    monkeypatch.delenv("STUDIO_MODELS", raising=False)
    inspector = window.inspector
    inspector.model_folders = [comfyui]
    node = window.scene.add_node("LoadModel", QPointF(0, 0))
    with qtbot.waitSignal(inspector.models.listed, timeout=20_000):
        window.scene.select_nodes([node])  # the first picker that asks starts the scan
        assert picker_items(inspector.editors["vae"]) == ["Looking for models…"]
    inspector.models.wait(10)
    vae = inspector.editors["vae"]
    assert picker_items(vae) == [
        "Choose a model (1 found)",
        "wan_2.1_vae.safetensors · bf16",
        "Scan the model folders again",
    ]
    items = picker_items(inspector.editors["path"])
    assert "wan_t2v.safetensors · Wan T2V 1.3B · bf16" in items
    assert any(item.startswith("starter (bundled) · Wan") for item in items)  # the bundled model too
    assert not any("style" in item for item in items)

    # Choosing a model sets the parameter (one undo step); the list follows undo.
    vae.choices.activated.emit(1)
    path = str(comfyui / "models" / "vae" / "wan_2.1_vae.safetensors")
    assert window.scene.graph.node(node).params["vae"] == path
    assert vae.text() == path
    window.undo_stack.undo()
    assert vae.choices.currentIndex() == 0 and vae.text() == ""

    # The bundled starter model is named as graphs name it.
    model = inspector.editors["path"]
    model.choices.activated.emit(next(i for i, text in enumerate(picker_items(model)) if "bundled" in text))
    assert window.scene.graph.node(node).params["path"] == "resources/models/starter"

    # Selecting another node and back uses the kept list: no second scan.
    window.scene.select_nodes([])
    window.scene.select_nodes([node])
    assert not inspector.models.scanning and len(picker_items(inspector.editors["vae"])) == 3


def test_changed_folders_list_the_models_again(window, qtbot, comfyui, tmp_path, monkeypatch):
    monkeypatch.delenv("STUDIO_MODELS", raising=False)
    inspector = window.inspector
    inspector.model_folders = [comfyui]
    node = window.scene.add_node("Upscale", QPointF(0, 0))
    with qtbot.waitSignal(inspector.models.listed, timeout=20_000):
        window.scene.select_nodes([node])
    assert picker_items(inspector.editors["model_path"])[0] == "No upscaler in the model folders"
    other = tmp_path / "other"
    write_header(other / "upscale_models" / "4x.safetensors", {"conv_first.weight": (64, 3, 3, 3)}, "F32")
    with qtbot.waitSignal(inspector.models.listed, timeout=20_000):
        inspector.model_folders = [comfyui, other]  # what the settings dialog does
    inspector.models.wait(10)
    assert picker_items(inspector.editors["model_path"])[1] == "4x.safetensors · fp32"
    inspector.model_folders = [comfyui, other]  # the same folders: the kept list stays
    assert not inspector.models.scanning
