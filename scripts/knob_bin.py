"""The knob binary the checker scripts run: $KNOB_BIN, else the release build
of this checkout (in $CARGO_TARGET_DIR when set), built when missing."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def knob_bin():
    env = os.environ.get("KNOB_BIN")
    if env:
        return env
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    path = target / "release" / "knob"
    if not path.is_file():
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "knob"], cwd=REPO, check=True)
    return str(path)
