#!/bin/sh
# Register this Studio folder with the desktop, for the current user: a `studio` command in
# ~/.local/bin, and the desktop entry, icons, MIME type (*.graph.json) and AppStream metainfo under
# ~/.local/share, so double-clicking a graph or a rendered video opens it here. The folder stays
# where it is (move it first, then run this again). Run from packaging/linux/ of a checkout, it
# registers the `studio` command already on PATH (a pip install) instead.
#   ./install.sh              register          ./install.sh --uninstall   remove the registration
# BINDIR and DATA override ~/.local/bin and ~/.local/share (e.g. /usr/local/bin and /usr/share as root).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
id=io.github.studio_app.Studio
if [ -x "$here/studio" ]; then
  share="$here/_internal/share" exe="$here/studio"
else
  share="$here" exe=$(command -v studio) || { echo "install.sh: no studio command on PATH" >&2; exit 1; }
fi
bin=${BINDIR:-$HOME/.local/bin}
data=${DATA:-${XDG_DATA_HOME:-$HOME/.local/share}}

refresh() {
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$data/mime"; fi
  if command -v update-desktop-database >/dev/null 2>&1; then update-desktop-database -q "$data/applications"; fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1; then gtk-update-icon-cache -q -t "$data/icons/hicolor" || true; fi
}

if [ "${1:-}" = "--uninstall" ]; then
  if [ "$(readlink "$bin/studio" 2>/dev/null)" = "$exe" ]; then rm -f "$bin/studio"; fi
  rm -f "$data/applications/$id.desktop" "$data/mime/packages/$id.xml" "$data/metainfo/$id.metainfo.xml"
  find "$data/icons/hicolor" -name "$id.*" -type f -delete 2>/dev/null || true
  refresh
  echo "Studio unregistered ($exe is left as it is)"
  exit 0
fi

mkdir -p "$bin" "$data/applications" "$data/mime/packages" "$data/metainfo" "$data/icons"
[ "$exe" = "$bin/studio" ] || ln -sf "$exe" "$bin/studio"
sed "s|^Exec=studio |Exec=\"$exe\" |" "$share/$id.desktop" > "$data/applications/$id.desktop"
cp "$share/$id.xml" "$data/mime/packages/$id.xml"
cp "$share/$id.metainfo.xml" "$data/metainfo/$id.metainfo.xml"
cp -R "$share/icons/hicolor" "$data/icons/"
refresh
echo "Studio registered: $bin/studio, $data/applications/$id.desktop, *.graph.json opens in it"
