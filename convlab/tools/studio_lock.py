"""requirements/studio.txt from SageMaker Studio's own package list: every package that `requirements/studio.in` pulls
in, at the version the image ships wherever PyPI offers it (`make lock-studio`).

    python -m convlab.tools.studio_lock PACKAGE_LIST [--python python3.12]

PACKAGE_LIST is the image's conda package list (../shared/reference/sagemaker-distribution/...). Conda names are
mapped to PyPI's (`PYPI_NAMES`). pip resolves studio.in with every image version as a constraint (a dry run in a
scratch environment: nothing is installed); a constraint that PyPI cannot meet (no such version, or a PyPI package
at the image's version that asks for another version of a dependency) is dropped, named with pip's reason in the
file's header, and the rest resolved again. Needs the network (PyPI).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from convlab.study import paths

STUDIO_IN = paths.PROJECT_DIR / "requirements" / "studio.in"
STUDIO_TXT = paths.PROJECT_DIR / "requirements" / "studio.txt"
# Conda packages whose PyPI distribution has another name (the image's TensorFlow is a CPU build: tensorflow-cpu,
# renamed to tensorflow once installed in .venv-studio by convlab.tools.studio_env)
PYPI_NAMES = {
    "tensorflow-base": "tensorflow-cpu",
    "tensorflow": "tensorflow-cpu",
    "matplotlib-base": "matplotlib",
    "sagemaker-python-sdk": "sagemaker",
    "pytorch": "torch",
}
MAX_ROUNDS = 40


def image_versions(package_list: Path) -> dict[str, str]:
    """The image's packages as PyPI names (canonical) and their versions."""
    versions = {}
    for line in package_list.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#") or "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]*", name):  # conda's own (_openmp_mutex, ...) have no PyPI twin
            versions[canonicalize_name(PYPI_NAMES.get(name, name))] = version
    return versions


def _resolve(python: str, constraints: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    (folder / "constraints.txt").write_text("".join(f"{name}=={version}\n" for name, version in sorted(constraints.items())))
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
    ]
    command += ["--report", str(folder / "report.json"), "-r", str(STUDIO_IN), "-c", str(folder / "constraints.txt")]
    return subprocess.run(command, capture_output=True, text=True)


UNAVAILABLE = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the requirement) ([\w.\-]+)=="
)
CONFLICT = re.compile(r"The user requested \(constraint\) ([\w.\-]+)==")


def lock(package_list: Path, python: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(the resolved pins, the image's versions, the dropped constraints with pip's reason)."""
    image = image_versions(package_list)
    constraints, dropped = dict(image), {}
    with tempfile.TemporaryDirectory() as scratch:
        venv = Path(scratch) / "venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        for _ in range(MAX_ROUNDS):
            result = _resolve(str(venv / "bin" / "python"), constraints, Path(scratch))
            if result.returncode == 0:
                report = json.loads((Path(scratch) / "report.json").read_text())
                pins = {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
                return pins, image, dropped
            output = result.stdout + result.stderr
            names = [(match, "PyPI has no such version") for match in UNAVAILABLE.findall(output)]
            names += [
                (match, "conflicts with what a PyPI package at the image's version requires")
                for match in CONFLICT.findall(output)
            ]
            names = [(canonicalize_name(name), why) for name, why in names if canonicalize_name(name) in constraints]
            if not names:
                raise RuntimeError(f"pip could not resolve studio.in and named no constraint to drop:\n{output[-3000:]}")
            for name, why in names:
                dropped[name] = f"{constraints.pop(name)}: {why}"  # e.g. "6.31.1: PyPI has no such version"
    raise RuntimeError(f"Still unresolved after dropping {len(dropped)} constraints: {sorted(dropped)}")


def same_version(first: str, second: str) -> bool:
    """Equal versions ("0.14" and "0.14.0"); conda's that PEP 440 cannot read ("2026c") compare as text."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(first) == Version(second)
    except InvalidVersion:
        return first == second


# What a PyPI install cannot match, whatever the constraints
NOTES = (
    "torch: PyPI's Linux wheel is the CUDA build and brings the nvidia-* packages below; the image's conda pytorch is",
    "the CPU build of the same version, which PyPI does not carry (download.pytorch.org does).",
)


def lock_text(pins: dict[str, str], image: dict[str, str], dropped: dict[str, str], package_list: Path) -> str:
    same = sum(name in image and same_version(image[name], version) for name, version in pins.items())
    lines = [
        "# SageMaker Studio's image (requirements/studio.in) with everything it pulls in, resolved on Python 3.12 with the",
        f"# image's own versions as constraints (generated by `make lock-studio` from {package_list.name}).",
        f"# {same} of these {len(pins)} packages are at the image's version; "
        f"{sum(name not in image for name in pins)} are not in the image's list.",
    ]
    missed = {name: reason for name, reason in dropped.items() if name in pins and not same_version(image[name], pins[name])}
    if missed:
        lines.append("# The image's versions that PyPI could not give with the rest (pip's choice is below):")
        lines += [f"#   {name} (the image's {reason})" for name, reason in sorted(missed.items())]
    lines += [f"# {note}" for note in NOTES]
    return "\n".join(lines + [f"{name}=={version}" for name, version in sorted(pins.items())]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package_list", type=Path)
    parser.add_argument("--python", default=sys.executable, help="the interpreter to resolve for (Studio's: 3.12)")
    parser.add_argument("--output", type=Path, default=STUDIO_TXT)
    args = parser.parse_args(argv)
    pins, image, dropped = lock(args.package_list, args.python)
    args.output.write_text(lock_text(pins, image, dropped, args.package_list), encoding="utf-8")
    print(f"{args.output}: {len(pins)} packages, {len(dropped)} image versions PyPI could not give")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
