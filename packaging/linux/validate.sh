#!/usr/bin/env bash
# Validate the Linux desktop files: the desktop entry (desktop-file-validate), the AppStream
# metainfo (appstreamcli) and the MIME type (update-mime-database must map *.graph.json to it).
# A validator that is not installed is skipped with a message; any failure exits 1.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
id=io.github.studio_app.Studio
status=0

if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$here/$id.desktop" && echo "desktop entry: valid" || status=1
else
  echo "desktop entry: not validated (desktop-file-validate is in Debian's desktop-file-utils)"
fi

if command -v appstreamcli >/dev/null 2>&1; then
  appstreamcli validate --no-net "$here/$id.metainfo.xml" || status=1
else
  echo "metainfo: not validated (appstreamcli is in Debian's appstream)"
fi

if command -v update-mime-database >/dev/null 2>&1; then
  mime=$(mktemp -d)
  mkdir -p "$mime/packages" && cp "$here/$id.xml" "$mime/packages/"
  if update-mime-database "$mime" 2>/dev/null && grep -q '^60:application/x-studio-graph:\*\.graph\.json' "$mime/globs2"; then
    echo "mime type: *.graph.json is application/x-studio-graph"
  else
    echo "mime type: $id.xml does not map *.graph.json"; status=1
  fi
  rm -rf "$mime"
else
  echo "mime type: not validated (update-mime-database is in Debian's shared-mime-info)"
fi
exit $status
