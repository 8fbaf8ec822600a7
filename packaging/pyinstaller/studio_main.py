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
    sys.exit(main())
