"""Where the test and benchmark executables are: CMake builds them into <build>/test-bin and
the wheel ships none. GKFS_TEST_BIN_DIR names that directory; else the most recently built
copy under the repository's build/ (scripts/setup.sh's build/<wheel_tag>; build/nofwd, the
forwarding-less unit-test build of scripts/test.sh, is never picked)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def built_binary(name: str) -> str:
    """Path of the executable `name`; FileNotFoundError saying how to build it."""
    if os.environ.get("GKFS_TEST_BIN_DIR"):
        candidates = [Path(os.environ["GKFS_TEST_BIN_DIR"]) / name]
    else:
        candidates = [p for p in (REPO / "build").glob(f"*/test-bin/{name}")
                      if p.parts[-3] != "nofwd"]
    found = [p for p in candidates if os.access(p, os.X_OK)]
    if not found:
        raise FileNotFoundError(f"{name} is not built: run scripts/setup.sh (it builds the test "
                                f"binaries into build/<wheel_tag>/test-bin)")
    return str(max(found, key=lambda p: p.stat().st_mtime))
