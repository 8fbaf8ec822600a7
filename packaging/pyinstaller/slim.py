"""The bundle's size-reduction steps, applied to PyInstaller's tables of contents after analysis.

Each step removes entries and says how many bytes it removed, so the build can report what every
step saves. A TOC entry is ``(dest_name, src_path, typecode)``; modules (``PYMODULE``) are named
by dotted module name, everything else by its path inside the bundle.

Libraries are removed only when nothing kept links them (their name is in no kept binary's
``DT_NEEDED`` list / import table): a CUDA build of torch links libcudart, cuBLAS, NCCL… from
libtorch_cpu and libtorch_python themselves, so those must stay for torch to load even on the CPU,
while cuDNN's engines, cuSOLVER, nvJitLink and Triton are only opened for GPU work.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Entry = tuple[str, str, str]

# Qt plugin folders the studio uses: windows on X11/Wayland/offscreen, image formats (the SVG icon),
# themes and input methods, and the FFmpeg back end that QtMultimedia plays sound and video with.
QT_PLUGINS_KEPT = {
    "platforms",
    "platformthemes",
    "platforminputcontexts",
    "imageformats",
    "iconengines",
    "styles",
    "xcbglintegrations",
    "egldeviceintegrations",
    "wayland-decoration-client",
    "wayland-graphics-integration-client",
    "wayland-shell-integration",
    "multimedia",
    "generic",
    "tls",
}
# Plugins in kept folders that pull in Qt Quick/QML (the virtual keyboard) or Qt PDF.
QT_PLUGINS_DROPPED = {"libqtvirtualkeyboardplugin.so", "libqpdf.so"}
TEST_PARTS = {"tests", "test", "testing_internal"}
# torch imports these few testing helpers itself (torch.utils.checkpoint, torch._refs, FSDP).
TORCH_TESTING_KEPT = {
    "torch.testing._internal",
    "torch.testing._internal.logging_tensor",
    "torch.testing._internal.common_dtype",
    "torch.testing._internal.distributed",
    "torch.testing._internal.distributed.fake_pg",
}
# GPU-only parts of a CUDA torch that nothing links: Triton's compiler and the CUDA libraries torch
# opens by name when a GPU kernel needs them.
CUDA_PATH = re.compile(
    r"^(nvidia|triton|cuda|cuda_bindings|cuda_pathfinder)/|libtorch_cuda|libc10_cuda|libcaffe2_nvrtc"
    r"|^(nvidia_|cuda_|triton-)[^/]*\.dist-info/"
)
TRITON_PATH = re.compile(r"^triton(/|-[^/]*\.dist-info/)")
CUDA_MODULE = re.compile(r"^(triton|nvidia|cuda|cuda_bindings|cuda_pathfinder)(\.|$)")
QT_LIBRARY = re.compile(r"(^|/)PySide6/Qt/lib/")


@dataclass
class Step:
    name: str
    what: str
    removed: list[Entry] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(entry_size(e) for e in self.removed)


def entry_size(entry: Entry) -> int:
    try:
        return os.path.getsize(entry[1])
    except (OSError, TypeError):
        return 0


def toc_size(entries: Iterable[Entry]) -> int:
    return sum(entry_size(e) for e in entries)


def _split(entries: list[Entry], drop: Callable[[Entry], bool]) -> tuple[list[Entry], list[Entry]]:
    kept, removed = [], []
    for entry in entries:
        (removed if drop(entry) else kept).append(entry)
    return kept, removed


def is_test_suite(entry: Entry) -> bool:
    """A test package, or torch's internal testing helpers, as a module or a collected file."""
    name, _, typecode = entry
    module = name if typecode == "PYMODULE" else name.replace("\\", "/").removesuffix(".py").removesuffix("/__init__")
    if module.replace("/", ".") in TORCH_TESTING_KEPT:
        return False
    if typecode == "PYMODULE":
        # a module inside a tests package, or the package itself; a module named tests (jinja2.tests) is code
        parts = name.replace("testing._internal", "testing_internal").split(".")
        is_package = str(entry[1]).replace("\\", "/").endswith("/__init__.py")
        parts = parts if is_package else parts[:-1]
    else:
        parts = name.replace("\\", "/").replace("testing/_internal", "testing_internal").split("/")[:-1]
    return bool(TEST_PARTS.intersection(parts))


def is_unused_qt_file(entry: Entry) -> bool:
    """Qt's translations (the studio is in English), QML, and plugins the studio does not use."""
    path = entry[0].replace("\\", "/")
    if "PySide6/" not in path:
        return False
    inside = path.split("PySide6/", 1)[1]
    if inside.startswith(("Qt/translations/", "Qt/qml/", "Qt/resources/qtwebengine", "Qt/libexec/")):
        return True
    if inside.startswith("Qt/plugins/"):
        folder = inside.split("/")[2] if inside.count("/") >= 3 else ""
        return folder not in QT_PLUGINS_KEPT or inside.rsplit("/", 1)[-1] in QT_PLUGINS_DROPPED
    return False


def is_cuda_only(entry: Entry) -> bool:
    name, _, typecode = entry
    if typecode == "PYMODULE":
        return bool(CUDA_MODULE.match(name))
    return bool(CUDA_PATH.search(name.replace("\\", "/")))


def _stem(library: str) -> str:
    """``libcublas.so.13`` -> ``libcublas``: names compared without their version suffixes."""
    base = os.path.basename(library)
    return re.split(r"\.so(\.|$)|\.dylib$|\.dll$", base, maxsplit=1)[0].lower()


def unlinked(
    binaries: list[Entry], candidate: Callable[[Entry], bool], imports_of: Callable[[str], Iterable[str]]
) -> list[Entry]:
    """The candidate libraries that no kept binary links, directly or through other kept libraries.

    ``imports_of(path)`` lists the library names a binary links (PyInstaller's ``bindepend``).
    Everything that is not a candidate is a root; a candidate is kept when a kept binary needs it.
    """
    by_stem: dict[str, list[Entry]] = {}
    for entry in binaries:
        if candidate(entry):
            by_stem.setdefault(_stem(entry[0]), []).append(entry)
    kept: set[str] = set()
    todo = [e for e in binaries if not candidate(e)]
    while todo:
        entry = todo.pop()
        for name in imports_of(entry[1]):
            stem = _stem(name)
            if stem in by_stem and stem not in kept:
                kept.add(stem)
                todo.extend(by_stem[stem])
    return [e for stem, entries in by_stem.items() if stem not in kept for e in entries]


def remove_test_suites(toc: dict[str, list[Entry]]) -> Step:
    step = Step("tests", "test suites (torch.testing._internal, */tests/)")
    for key in toc:
        toc[key], removed = _split(toc[key], is_test_suite)
        step.removed += removed
    return step


def remove_unused_qt(toc: dict[str, list[Entry]], imports_of: Callable[[str], Iterable[str]]) -> Step:
    step = Step("qt", "Qt translations, QML and unused plugins, then the Qt libraries nothing links")
    for key in ("binaries", "datas"):
        toc[key], removed = _split(toc[key], is_unused_qt_file)
        step.removed += removed
    orphans = unlinked(toc["binaries"], lambda e: bool(QT_LIBRARY.search(e[0].replace("\\", "/"))), imports_of)
    toc["binaries"] = [e for e in toc["binaries"] if e not in orphans]
    step.removed += orphans
    return step


def remove_cuda(toc: dict[str, list[Entry]], imports_of: Callable[[str], Iterable[str]], *, all_of_it: bool) -> Step:
    """GPU-only files. ``all_of_it`` removes every CUDA file (right for a CPU build of torch, which
    has none; a CUDA build then fails to load); otherwise only what nothing links."""
    if all_of_it:
        step = Step("cuda-all", "every CUDA library, Triton and the nvidia packages")
        for key in toc:
            toc[key], removed = _split(toc[key], is_cuda_only)
            step.removed += removed
        return step
    step = Step("cuda", "Triton and the CUDA libraries nothing links (opened by name for GPU work only)")
    toc["pure"], removed = _split(toc["pure"], lambda e: e[0] == "triton" or e[0].startswith("triton."))
    step.removed += removed
    for key in ("datas", "binaries"):
        toc[key], removed = _split(toc[key], lambda e: bool(TRITON_PATH.match(e[0].replace("\\", "/"))))
        step.removed += removed
    orphans = unlinked(toc["binaries"], is_cuda_only, imports_of)
    toc["binaries"] = [e for e in toc["binaries"] if e not in orphans]
    step.removed += orphans
    return step
