#!/usr/bin/env bash
# Build the one-folder app with PyInstaller and smoke-test it (packaging/README.md).
#
#   packaging/build.sh [--no-build] [--without-cuda]
#
# PYTHON     the Python whose packages are bundled (default: .venv/bin/python, else python3)
# WORK       build folder (default: build/bundle); the app lands in $WORK/dist/studio
# STUDIO_BUNDLE_STEPS   size steps (default tests,qt,cuda; see packaging/pyinstaller/studio.spec)
# Writes $WORK/report.json: build seconds, size, what each size step saved, the smoke test's results.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
python="${PYTHON:-}"
[ -n "$python" ] || { [ -x .venv/bin/python ] && python=.venv/bin/python || python=python3; }
python="$(command -v "$python")"
case "$python" in /*) ;; *) python="$root/$python";; esac  # absolute: the smoke test runs it from elsewhere
work="$(realpath -m "${WORK:-build/bundle}")"
build=1 smoke_args=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0;;
    --without-cuda) smoke_args+=(--without-cuda);;
    *) echo "usage: packaging/build.sh [--no-build] [--without-cuda]" >&2; exit 2;;
  esac
done
mkdir -p "$work"

if [ "$build" = 1 ]; then
  start=$(date +%s)
  # nice: the build is long and CPU-heavy; it should not starve the machine's other work
  nice -n 10 "$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$work/dist" --workpath "$work/work" packaging/pyinstaller/studio.spec
  echo $(( $(date +%s) - start )) > "$work/build-seconds"
fi

status=0
"$python" packaging/smoke_test.py "$work/dist/studio" --work "$work/smoke" --source-python "$python" \
  "${smoke_args[@]}" > /dev/null || status=$?

"$python" - "$work" <<'PY'
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
steps = json.loads((work / "work" / "studio" / "size-steps.json").read_text())
smoke = json.loads((work / "smoke" / "smoke.json").read_text())
seconds = (work / "build-seconds").read_text().strip() if (work / "build-seconds").exists() else "?"
report = {"build_seconds": seconds, **steps, "smoke": smoke}
(work / "report.json").write_text(json.dumps(report, indent=2))
mib = lambda n: f"{n / 2**20:,.0f} MiB"
print(f"build: {seconds} s; bundle {mib(smoke['bundle_bytes'])} (collected before the size steps: {mib(steps['collected_bytes'])})")
for step in steps["steps"]:
    print(f"  step {step['step']:8s} -{mib(step['bytes']):>10s}  {step['files']:5d} files  {step['what']}")
for key, value in smoke.items():
    if key not in ("bundle", "bundle_bytes"):
        print(f"  {key}: {value}")
PY
exit $status
