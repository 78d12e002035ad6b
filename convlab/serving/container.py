"""The SageMaker TensorFlow Serving container's own request front-end, run on this machine.

What runs is the container's code, read from `../shared/reference/sagemaker-tfs-container/tf-<version>/`
(never copied into the repository): `python_service.py` under gunicorn with gevent workers, as the
container's `serve.py` starts it, with its `tfs_utils.py`. It runs in a Python environment that holds
exactly the serving image's Python packages (`image_requirements`, read from the image's own
`Dockerfile.cpu` or `pyproject.toml`), so the artifact's `code/inference.py` is imported with what
the image has and nothing else (`frontend_launcher.py` starts it). Stand-ins replace what cannot run here:
- the TF Serving process: `tfserving_standin.py` answers TF Serving's REST predict with the artifact's
  SavedModel, in TensorFlow of the serving image's version when that environment has been built
  (`make serving-envs`), else in this environment's TensorFlow;
- the container's `/opt/ml/model` and `/sagemaker`: a temporary folder each; the artifact is unpacked into the
  first, and the front end keeps its lock file (`multi_model_utils.lock`, which `GET /invocations` takes) in the
  second, creating it at first use as it does in the container;
- nginx, in front of gunicorn's unix socket as `serve.py` configures it: `frontend_launcher.py nginx` reads each
  request whole, answers what it cannot parse with nginx's HTML error page, and closes a connection whose body does
  not come within `client_timeout` without an answer, as nginx does (60 s, nginx's default; a test sets less).
The gRPC channel that the front-end opens is a real, unused grpcio channel.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from convlab.study import paths

REFERENCE_ENV = "CONVLAB_REFERENCE_DIR"
SERVING_ENVS_DIR = paths.PROJECT_DIR / ".venv-serving"
SUPPORTED_VERSIONS = ("2.19", "2.20")
MODEL_NAME = "model"  # serve.py names the model after its folder, /opt/ml/model
STARTUP_SECONDS = 120
CLIENT_TIMEOUT = 60.0  # nginx's default client_header_timeout and client_body_timeout; the template sets neither


def reference_dir() -> Path:
    """The containers' reference code: `$CONVLAB_REFERENCE_DIR`, else `../shared/reference/sagemaker-tfs-container`."""
    value = os.environ.get(REFERENCE_ENV)
    return Path(value) if value else paths.PROJECT_DIR.parent / "shared" / "reference" / "sagemaker-tfs-container"


def frontend_dir(version: str) -> Path:
    """The folder of one image's front-end (`python_service.py`, `tfs_utils.py`, `Dockerfile.cpu`)."""
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"No reference front-end for TF Serving {version!r}; the ones known are {', '.join(SUPPORTED_VERSIONS)}."
        )
    return reference_dir() / f"tf-{version}"


def reference_available(version: str) -> bool:
    folder = frontend_dir(version)
    return all((folder / name).is_file() for name in ("python_service.py", "tfs_utils.py", "multi_model_utils.py"))


# --- the image's Python packages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRequirements:
    """What the serving image pip-installs: requirement strings, and those installed without their dependencies."""

    version: str
    python: str
    requirements: tuple[str, ...]
    without_dependencies: tuple[str, ...]


def _dockerfile_pip_installs(text: str) -> list[tuple[list[str], bool]]:
    """Every `pip install` of a Dockerfile's RUN commands: (requirements, installed with --no-deps)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    installs = []
    for command in re.findall(r"^RUN (.*)$", joined, flags=re.MULTILINE):
        for segment in command.split("&&"):
            words = shlex.split(segment)
            if "install" not in words or not any(word.endswith(("PIP}", "pip", "pip3")) for word in words):
                continue
            after = words[words.index("install") + 1 :]
            no_deps = any(word in ("--no-deps", "--no-dependencies") for word in after)
            names = [word for word in after if not word.startswith("-") and word not in ("pip", "setuptools>=75.0.0")]
            installs.append((names, no_deps))
    return installs


def _dockerfile_arg(text: str, name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)", text, flags=re.MULTILINE)
    if not match:
        raise ValueError(f"The reference Dockerfile sets no ARG {name}.")
    return match.group(1)


def image_requirements(version: str) -> ImageRequirements:
    """The serving image's Python packages, read from its own build files in the reference folder."""
    folder = frontend_dir(version)
    dockerfile = (folder / "Dockerfile.cpu").read_text(encoding="utf-8")
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():  # 2.20 and later: a uv project, synced with its `sagemaker` extra
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        requirements = list(project["dependencies"]) + list(project.get("optional-dependencies", {}).get("sagemaker", []))
        serving_api = f"tensorflow-serving-api=={_dockerfile_arg(dockerfile, 'TF_SERVING_VERSION')}"
        return ImageRequirements(version, _dockerfile_arg(dockerfile, "PYTHON_VERSION"), tuple(requirements), (serving_api,))
    requirements, without = [], []
    for names, no_deps in _dockerfile_pip_installs(dockerfile):
        (without if no_deps else requirements).extend(names)
    python = _dockerfile_arg(dockerfile, "PYTHON").removeprefix("python")
    return ImageRequirements(version, python, tuple(requirements), tuple(without))


# --- the environments ----------------------------------------------------------------------------------------


def frontend_python(version: str) -> Path:
    """The interpreter of the environment that holds the serving image's packages."""
    return SERVING_ENVS_DIR / f"tf-{version}" / "bin" / "python"


def runtime_python(version: str) -> Path:
    """The interpreter of the environment with TensorFlow of the serving image's version (the TF Serving stand-in)."""
    return SERVING_ENVS_DIR / f"tensorflow-{version}" / "bin" / "python"


def _base_python(wanted: str) -> str:
    """The image's Python version when this machine has one that runs, else the interpreter running now."""
    candidates = [
        shutil.which(f"python{wanted}"),
        *sorted(map(str, Path.home().glob(f".pyenv/versions/{wanted}*/bin/python{wanted}"))),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


def _installer(building: Path) -> list[str]:
    """uv's `pip install` into the environment being built where uv is at hand (`make setup` installs it in .venv), else
    the environment's own pip: the same packages, uv in seconds once its cache holds them."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(building / "bin" / "python")]
    return [str(building / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def _create_environment(folder: Path, python: str, installs: list[tuple[tuple[str, ...], bool]]) -> None:
    """A virtual environment with exactly these installs, built in a temporary folder and moved into place."""
    building = folder.with_name(folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(building)], check=True)
    pip = _installer(building)
    for requirements, no_deps in installs:
        if requirements:
            subprocess.run(pip + (["--no-deps"] if no_deps else []) + list(requirements), check=True)
    shutil.rmtree(folder, ignore_errors=True)
    building.rename(folder)


def build_environments(version: str, *, runtime: bool = True) -> list[Path]:
    """Build (once) the front-end environment of one serving image and, with `runtime`, TensorFlow of its version."""
    built = []
    image = image_requirements(version)
    frontend = frontend_python(version).parent.parent
    if not frontend_python(version).is_file():
        _create_environment(
            frontend, _base_python(image.python), [(image.requirements, False), (image.without_dependencies, True)]
        )
        built.append(frontend)
    if runtime and not runtime_python(version).is_file():
        folder = runtime_python(version).parent.parent
        _create_environment(folder, _base_python(image.python), [((f"tensorflow-cpu=={version}.*",), False)])
        built.append(folder)
    return built


def installed_packages(python: Path) -> dict[str, str]:
    """Distribution name (lower case) → version, as the environment's own pip metadata reports them."""
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name'].lower(): d.version for d in m.distributions()}))"
    )
    completed = subprocess.run([str(python), "-I", "-c", script], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


# --- running the front-end -----------------------------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports on 127.0.0.1 that were free a moment ago."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _wait_for(url: str, process: subprocess.Popen, what: str, log: Path) -> None:
    """Poll `url` until it answers 200; a process that exits first is an error carrying its log."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{what} exited during start-up (exit {process.returncode}):\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise ServerStartError(f"{what} did not answer {url} within {STARTUP_SECONDS} s:\n{tail(log)}")


def tail(log: Path, characters: int = 4000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-characters:] if log.is_file() else ""


class ServerStartError(RuntimeError):
    """The front-end or the TF Serving stand-in did not start (the endpoint would fail its health check)."""


class ContainerEndpoint:
    """A `model.tar.gz` served by the container's own front-end, in the image's Python packages, on 127.0.0.1.

    `url` answers `GET /ping` and `POST /invocations` as the container's gunicorn does; `front_end` says
    which code and environment served; the TF Serving stand-in's TensorFlow version is in `tensorflow_version`.
    """

    def __init__(
        self,
        tarball: Path,
        version: str,
        *,
        python: Path | None = None,
        runtime: Path | None = None,
        client_timeout=CLIENT_TIMEOUT,
    ):
        if not reference_available(version):
            raise FileNotFoundError(
                f"The TF Serving {version} front-end is not in {paths.shown(frontend_dir(version))}; "
                f"put ../shared/reference beside the repository or set ${REFERENCE_ENV}."
            )
        self.version = version
        self.python = Path(python) if python else frontend_python(version)
        if not self.python.is_file():
            raise FileNotFoundError(
                f"No environment with the TF Serving {version} image's packages at {paths.shown(self.python)}; "
                "run `make serving-envs`."
            )
        runtime = Path(runtime) if runtime else runtime_python(version)
        self.runtime = runtime if runtime.is_file() else Path(sys.executable)
        self.client_timeout = float(client_timeout)  # nginx's client_header_timeout and client_body_timeout
        self._folder = Path(tempfile.mkdtemp(prefix="convlab-container-"))
        self.model_dir = self._folder / "opt-ml-model"  # stands for /opt/ml/model
        self.sagemaker_dir = self._folder / "sagemaker"  # stands for /sagemaker, where the front end keeps its lock file
        self.sagemaker_dir.mkdir()
        with tarfile.open(tarball) as archive:
            archive.extractall(self.model_dir, filter="data")
        self._processes: list[subprocess.Popen] = []
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        rest_port, grpc_port, port = _free_ports(3)
        self.tfs_log, self.frontend_log = self._folder / "tfserving.log", self._folder / "frontend.log"
        tfs = self._spawn(
            [
                str(self.runtime),
                str(paths.PACKAGE_DIR / "serving" / "tfserving_standin.py"),
                str(self.model_dir),
                str(rest_port),
                MODEL_NAME,
            ],
            self.tfs_log,
        )
        _wait_for(f"http://127.0.0.1:{rest_port}/v1/models/{MODEL_NAME}", tfs, "The TF Serving stand-in", self.tfs_log)
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "TFS_GRPC_PORTS": str(grpc_port),
            "TFS_REST_PORTS": str(rest_port),
            "TFS_DEFAULT_MODEL_NAME": MODEL_NAME,
            "SAGEMAKER_MULTI_MODEL": "False",  # what serve.py passes: str(False)
            "SAGEMAKER_TFS_WAIT_TIME_SECONDS": "60",
            "SAGEMAKER_GUNICORN_WORKERS": "1",
            "PYTHONPATH": str(self.model_dir / "code"),  # serve.py puts /opt/ml/model/code on the path
            "PYTHONNOUSERSITE": "1",
        }
        launcher = [str(self.python), str(paths.PACKAGE_DIR / "serving" / "frontend_launcher.py")]
        arguments = [*launcher, str(frontend_dir(self.version)), str(self.model_dir), str(self.sagemaker_dir)]
        # serve.py: python3 /sagemaker/python_service.py -b unix:/tmp/gunicorn.sock -k gevent --chdir /sagemaker ...
        sock = self._folder / "gunicorn.sock"
        arguments += ["-b", f"unix:{sock}", "-k", "gevent", "--chdir", str(frontend_dir(self.version))]
        arguments += ["--workers", "1", "--threads", "1", "--log-level", "info", "--timeout", "30"]
        frontend = self._spawn(arguments, self.frontend_log, environment)
        deadline = time.monotonic() + STARTUP_SECONDS  # serve.py waits for the socket, then starts nginx
        while not sock.exists() and frontend.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        self.nginx_log = self._folder / "nginx.log"
        pinned = re.search(r"^ARG NGINX_VERSION=(\S+)", (frontend_dir(self.version) / "Dockerfile.cpu").read_text(), re.M)
        nginx = [*launcher, "nginx", str(port), str(sock), str(rest_port), str(self.client_timeout)]  # its pages name its version
        self._spawn([*nginx, pinned.group(1) if pinned else ""], self.nginx_log, environment)
        self.url = f"http://127.0.0.1:{port}"
        _wait_for(f"{self.url}/ping", frontend, f"The TF Serving {self.version} front-end", self.frontend_log)
        self.tensorflow_version = re.search(r"tfserving-standin ready: TensorFlow (\S+)", tail(self.tfs_log, 10**6)).group(1)

    def _spawn(self, arguments: list[str], log: Path, environment: dict | None = None) -> subprocess.Popen:
        handle = log.open("wb")
        process = subprocess.Popen(arguments, stdout=handle, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
        handle.close()
        self._processes.append(process)
        return process

    @property
    def front_end(self) -> str:
        """Which front-end served, in words."""
        return (
            f"the SageMaker TF Serving {self.version} container's own python_service.py (gunicorn, gevent), in Python "
            f"{self.python_version} with the image's packages, behind a stand-in for its nginx; TF Serving stood in for by "
            f"TensorFlow {self.tensorflow_version} loading the SavedModel"
        )

    @property
    def python_version(self) -> str:
        return subprocess.run(
            [str(self.python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, 15)
                except ProcessLookupError:
                    pass
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
        self._processes.clear()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> ContainerEndpoint:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """`python -m convlab.serving.container build 2.19 2.20`: the front-end environments of those serving images.

    TensorFlow of the serving version is built for the image that mode aws deploys to only.
    """
    from convlab.serving.artifact import SERVING_IMAGE_VERSION

    arguments = argv if argv is not None else sys.argv[1:]
    if not arguments or arguments[0] != "build":
        print("usage: python -m convlab.serving.container build VERSION [VERSION ...]", file=sys.stderr)
        return 2
    for version in arguments[1:] or SUPPORTED_VERSIONS:
        if not reference_available(version):
            print(f"Skipped TF Serving {version}: no reference front-end in {frontend_dir(version)}.")
            continue
        built = build_environments(version, runtime=version == SERVING_IMAGE_VERSION)
        print(
            f"TF Serving {version}: " + (", ".join(str(path) for path in built) + " built" if built else "environments present")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
