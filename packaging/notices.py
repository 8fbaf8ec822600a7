"""Third-party licence notices for a bundle, gathered from the installed distributions' metadata.

    python packaging/notices.py [SITE_PACKAGES_OR_DIST_INFO ...] [-o THIRD-PARTY-NOTICES.txt]

For each ``*.dist-info`` folder: the project's name, version, licence (``License-Expression``,
else ``License``, else its licence classifiers), home page, then the full text of every licence
file it carries. The PyInstaller spec calls :func:`gather` with the distributions it bundles; the
bundle's About dialog shows the result.
"""

from __future__ import annotations

import argparse
import email.parser
import sys
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
LICENCE_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "COPYRIGHT")

PREAMBLE = """\
Third-party software in Studio
==============================

Studio is free software under the GNU General Public License, version 3 or (at your option) any
later version (the LICENSE file beside this one). This bundle also contains the software listed
below, each under its own licence, whose texts follow.

Notes on the parts whose licences ask something of a distributor:

* PyAV (the av package) bundles FFmpeg's libraries (libavcodec, libavformat, ...: LGPL-2.1-or-later)
  built with the x264 and x265 encoders (GPL-2.0-or-later), so the FFmpeg it carries is under the
  GPL; Studio's own GPL-3.0-or-later licence is compatible, and the bundle as a whole is
  distributed under GPL-3.0-or-later. The libraries are in av.libs/ and opencv_python_headless.libs/.
  FFmpeg's source: https://ffmpeg.org; the build PyAV used: https://github.com/PyAV-Org/pyav-ffmpeg.
* Qt and PySide6 are used under the GNU Lesser General Public License version 3 (text below). The
  Qt libraries are separate shared libraries in PySide6/Qt/lib/ of this folder: you may replace them
  with your own build of the same Qt version. Qt's source: https://download.qt.io.
* NVIDIA's CUDA libraries (the nvidia-* entries, where present) are proprietary and redistributed
  under NVIDIA's licence, included below. A CPU-only bundle built from a CPU build of torch has none.

The full texts of the LGPL 2.1, LGPL 3.0 and GPL 2.0 follow the list.
"""
STANDARD_TEXTS = ("LGPL-3.0.txt", "LGPL-2.1.txt", "GPL-2.0.txt")


def _metadata(dist: Path) -> email.message.Message:
    path = dist / "METADATA"
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return email.parser.Parser().parsestr(text, headersonly=True)


def licence_of(meta: email.message.Message) -> str:
    """The licence a distribution declares, in one line."""
    expression = meta.get("License-Expression")
    if expression:
        return expression.strip()
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    declared = (meta.get("License") or "").strip().splitlines()
    if declared and len(declared[0]) <= 80:
        return declared[0]
    return ", ".join(classifiers) or "see the licence text"


def licence_files(dist: Path) -> list[Path]:
    """The licence texts in a dist-info folder (its licenses/ folder and top-level LICENSE-like files)."""
    found = [p for p in sorted((dist / "licenses").rglob("*")) if p.is_file() and p.suffix not in (".py", ".pyc")]
    found += [p for p in sorted(dist.iterdir()) if p.is_file() and p.name.upper().startswith(LICENCE_NAMES)]
    return found


def _dists(places: Iterable[Path]) -> list[Path]:
    found = []
    for place in places:
        place = Path(place)
        found += [place] if place.name.endswith(".dist-info") else sorted(place.glob("*.dist-info"))
    return sorted(dict.fromkeys(found), key=lambda p: p.name.lower())


def gather(places: Iterable[Path], *, own_name: str = "studio") -> str:
    """The notices file for the distributions in ``places`` (dist-info folders or folders holding them)."""
    dists = [d for d in _dists(places) if not d.name.lower().startswith(own_name + "-")]
    rows, texts = [], []
    for dist in dists:
        meta = _metadata(dist)
        name, version = meta.get("Name") or dist.name.split("-")[0], meta.get("Version") or "?"
        home = meta.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in meta.get_all("Project-URL") or [] if "," in u), ""
        )
        rows.append(f"{name} {version}\n    licence: {licence_of(meta)}" + (f"\n    {home}" if home else ""))
        for file in licence_files(dist):
            body = file.read_text(encoding="utf-8", errors="replace").strip()
            texts.append(f"{'-' * 78}\n{name} {version}: {file.relative_to(dist).as_posix()}\n{'-' * 78}\n{body}\n")
    standard = [
        f"{'-' * 78}\n{name.removesuffix('.txt')}\n{'-' * 78}\n{(HERE / 'licenses' / name).read_text(encoding='utf-8')}"
        for name in STANDARD_TEXTS
    ]
    return "\n".join([PREAMBLE, "Components\n----------\n", *rows, "", *standard, *texts])


def studio_version(dist: Path) -> str:
    return _metadata(dist).get("Version") or "0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("places", nargs="*", type=Path, help="site-packages folders or dist-info folders")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    places = args.places or [Path(p) for p in sys.path if p.endswith("site-packages")]
    text = gather(places)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"{args.output}: {len(_dists(places))} distributions")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
