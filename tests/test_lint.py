"""`make lint`'s file checks: a committed private key or an oversized file fails it, clean files pass."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from convlab.study import paths

pytest.importorskip("pre_commit_hooks")  # installed from requirements.txt (pre-commit-hooks)

HOOK_MODULES = {
    "detect-private-key": "pre_commit_hooks.detect_private_key",
    "check-added-large-files": "pre_commit_hooks.check_added_large_files",
}
KEY_HEADER = "-----BEGIN " + "{} PRIVATE KEY-----"  # split so that this file does not trip the check itself


def lint_arguments(hook: str) -> list[str]:
    """The arguments `make lint` passes to a hook, read from the Makefile (so the test checks what CI runs)."""
    text = (paths.PROJECT_DIR / "Makefile").read_text()
    variables = dict(line.split(" := ", 1) for line in text.splitlines() if " := " in line)
    line = next(line for line in text.splitlines() if f"$(BIN)/{hook}" in line)
    arguments = line.split(f"$(BIN)/{hook}", 1)[1]
    for name, value in variables.items():
        arguments = arguments.replace(f"$({name})", value.strip())
    return shlex.split(arguments)


def run_hook(hook: str, repository: Path) -> subprocess.CompletedProcess:
    """A hook over every tracked file of a repository, as `make lint` runs it."""
    listing = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=repository, capture_output=True, text=True, check=True).stdout
    files = [entry.split("\t", 1)[1] for entry in listing.split("\0")[:-1] if not entry.startswith("120000 ")]  # no links
    command = [sys.executable, "-m", HOOK_MODULES[hook], *lint_arguments(hook), *files]
    return subprocess.run(command, cwd=repository, capture_output=True, text=True)


def committed(repository: Path, files: dict[str, bytes]) -> Path:
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    for name, content in files.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_bytes(content)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "add", "-A"], cwd=repository, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "files"], cwd=repository, check=True)
    return repository


def max_bytes() -> int:
    (cap,) = [argument for argument in lint_arguments("check-added-large-files") if argument.startswith("--maxkb=")]
    return 1024 * int(cap.removeprefix("--maxkb="))


CLEAN = {"convlab/module.py": b"print('hello')\n", "README.md": b"# A report\n"}
OPENSSH_IN_NOTEBOOK = b'{"key": "' + KEY_HEADER.format("OPENSSH").encode() + b'"}'
CASES = [  # case, files committed besides the clean ones, the hook that must fail (None: both pass)
    ("clean files", {}, None),
    ("RSA key", {"deploy/id_rsa": KEY_HEADER.format("RSA").encode() + b"\nMIIEow\n"}, "detect-private-key"),
    ("OpenSSH key in a notebook", {"notebooks/x.ipynb": OPENSSH_IN_NOTEBOOK}, "detect-private-key"),
    ("file just under the cap", {"reports/published/report.pdf": b"0" * max_bytes()}, None),
    ("file over the cap", {"reports/models/cnn.keras": b"0" * (max_bytes() + 1)}, "check-added-large-files"),
]


@pytest.mark.parametrize("case, files, failing", CASES, ids=[row[0] for row in CASES])
def test_lint_rejects_committed_private_keys_and_large_files(tmp_path, case, files, failing):
    repository = committed(tmp_path / "repository", CLEAN | files)
    for hook in HOOK_MODULES:
        result = run_hook(hook, repository)
        assert result.returncode == (1 if hook == failing else 0), (hook, result.stdout, result.stderr)
        if hook == failing:
            assert next(iter(files)) in result.stdout, "the message names the file"


def test_the_size_cap_leaves_room_for_the_published_report():
    assert lint_arguments("check-added-large-files") == ["--enforce-all", "--maxkb=8000"]
    assert max_bytes() > 6 * 1024 * 1024, "the published report's largest part (about 6 MB) passes"


def test_this_repository_passes_its_own_file_checks():
    for hook in HOOK_MODULES:
        result = run_hook(hook, paths.PROJECT_DIR)
        assert result.returncode == 0, result.stdout
