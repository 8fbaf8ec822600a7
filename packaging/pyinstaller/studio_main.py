"""The bundled app's entry point: the `studio` command (the window by default, `run`, `nodes`, ...)."""

import multiprocessing
import os
import sys

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen app re-runs itself for child processes (Windows, macOS spawn)
    if os.environ.get("STUDIO_FIRST_PAINT") == "1":  # start-up benchmark: quit after the first paint
        import first_paint

        first_paint.install(sys.argv[1:])
    if os.environ.get("STUDIO_RENDER_CHECK") == "1":  # smoke test: render in a render process, then exit
        import render_check

        sys.exit(render_check.main(sys.argv[1:]))
    sys.exit(main())
