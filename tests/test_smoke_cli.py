import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_starter_graph_renders_a_video(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "run",
            str(ROOT / "resources/graphs/starter.graph.json"),
            "-o",
            str(tmp_path),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    written = list(tmp_path.glob("starter_*.mp4"))
    assert len(written) == 1 and written[0].stat().st_size > 1000
    assert str(written[0]) in result.stdout
