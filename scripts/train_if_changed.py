"""Train the Rasa model only when its inputs changed.

The fingerprint covers config.yml, domain.yml, data/ and the custom NLU components; it is stored beside
the model as ``models/tthc.fingerprint``. This avoids Rasa's own slower check (which loads the project).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "tthc.tar.gz"
STAMP = ROOT / "models" / "tthc.fingerprint"
INPUTS = ["config.yml", "domain.yml", "data", "nlu_components", "core/privacy.py"]


def fingerprint() -> str:
    """Hash of every training input file (path and content)."""
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def main() -> int:
    """Train when needed; print what happened."""
    want = fingerprint()
    if MODEL.exists() and STAMP.exists() and STAMP.read_text().strip() == want:
        print(f"Rasa model is up to date ({MODEL.relative_to(ROOT)}).")
        return 0
    print("Training the Rasa model (data, config or components changed)...", flush=True)
    started = time.monotonic()
    rasa = Path(sys.executable).parent / "rasa"
    cmd = [str(rasa), "train", "--fixed-model-name", "tthc", "--out", "models", "--num-threads", "2"]
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        print("Huấn luyện mô hình thất bại (xem lỗi ở trên).", file=sys.stderr)
        return result.returncode
    STAMP.write_text(want + "\n")
    print(f"Trained in {time.monotonic() - started:.0f} s -> {MODEL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
