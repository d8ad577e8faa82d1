"""A virtualenv holding only the built `cognito_mirror` wheel and its dependencies.

    venv = library_venv()   # .local/library-venv/<fingerprint>, rebuilt only when the library changed
    library_wheel(venv)     # the wheel it was installed from

It is what a user's service gets from `pip install cognito-attribute-mirror`: the wheel built from
this checkout (`pip wheel --no-deps`), installed with its declared dependencies from the package
index, pinned to this repository's versions (`requirements.txt` as constraints). Nothing of the
repository is on its path, and it has no pip of its own (this process's pip installs into it). The
example consumer runs on it locally (scripts/stack.py); the wheel test uses it too.

The venv is keyed by a hash of the library's sources and pyproject.toml: an unchanged library
reuses it in milliseconds; a change rebuilds it (about half a minute, downloads cached by pip).
A lock file serializes concurrent builders (the demo and the tests may start at once).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from scripts.dynamodb_local import LocalServiceError

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "cognito_mirror"
DEFAULT_HOME = ROOT / ".local" / "library-venv"
BUILD_TIMEOUT_S = 600
# Run by the venv's python with -I from a folder outside the checkout: exit 0 only when the library comes
# from the venv's own site-packages.
INSTALLED_CHECK = "import cognito_mirror, sys; sys.exit(not cognito_mirror.__file__.startswith(sys.prefix))"


def library_fingerprint(root: Path = ROOT) -> str:
    """A hash of everything that goes into the wheel (the package's files and pyproject.toml)."""
    digest = hashlib.sha256()
    files = sorted(
        path
        for path in (root / "cognito_mirror").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    for path in [root / "pyproject.toml", *files]:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _clean_env() -> dict[str, str]:
    """This process's environment without PYTHONPATH: with the checkout on the path, pip would take the
    build's own `cognito_attribute_mirror.egg-info` for an installed copy and skip the wheel."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def _run(argv: list[str], what: str, cwd: str | None = None) -> None:
    try:
        run = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
            env=_clean_env(),
            cwd=cwd,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalServiceError(f"{what} failed: {exc}") from None
    if run.returncode != 0:
        tail = (run.stderr.strip() or run.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise LocalServiceError(f"{what} failed (exit {run.returncode}): {tail[0][:300]}")


def pins_without_extras(requirements: str) -> str:
    """requirements.txt as pip constraints, which may not name extras (`PyJWT[crypto]==2` -> `PyJWT==2`)."""
    return "".join(
        re.sub(r"\[[^\]]*\]", "", line) + "\n"
        for line in requirements.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    )


def library_wheel(venv: Path) -> Path:
    """The wheel `venv` was installed from."""
    (wheel,) = (venv / "wheel").glob("cognito_attribute_mirror-*.whl")
    return wheel


def build_library_venv(target: Path, python: str = "python3.11", root: Path = ROOT) -> None:
    """Build the wheel from `root` and a fresh venv at `target` with only it and its dependencies."""
    with tempfile.TemporaryDirectory(prefix="cognito-mirror-wheel-") as wheel_dir:
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--wheel-dir",
                wheel_dir,
                str(root),
            ],
            "building the cognito_mirror wheel",
        )
        wheels = sorted(Path(wheel_dir).glob("cognito_attribute_mirror-*.whl"))
        if len(wheels) != 1:
            raise LocalServiceError(f"expected one cognito_attribute_mirror wheel, found {len(wheels)}")
        _run([python, "-m", "venv", "--without-pip", str(target)], "creating the library venv")
        (target / "wheel").mkdir()
        wheel = Path(shutil.copy(wheels[0], target / "wheel"))
        constraints = Path(wheel_dir) / "constraints.txt"
        constraints.write_text(pins_without_extras((root / "requirements.txt").read_text()))
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(target / "bin" / "python"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--constraint",
                str(constraints),
                str(wheel),
            ],
            "installing the cognito_mirror wheel",
        )
        # The venv must import the library from its own site-packages, isolated from any path.
        _run(
            [
                str(target / "bin" / "python"),
                "-I",
                "-c",
                INSTALLED_CHECK,
            ],
            "checking the library venv imports its installed cognito_mirror",
            cwd=wheel_dir,
        )


def library_venv(
    home: Path = DEFAULT_HOME, python: str = "python3.11", say: Callable[[str], None] = print
) -> Path:
    """The venv of the current library sources (built first if they changed); returns its folder.

    Each build lives in `home/<fingerprint>`; older builds are removed once a new one is complete.
    """
    home.mkdir(parents=True, exist_ok=True)
    fingerprint = library_fingerprint()
    venv = home / fingerprint
    complete = venv / ".complete"
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if complete.is_file():
            return venv
        say("building the cognito_mirror wheel and a venv with only it (once per library change)")
        shutil.rmtree(venv, ignore_errors=True)
        try:
            build_library_venv(venv, python)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        complete.touch()
        for old in home.iterdir():
            if old.is_dir() and old != venv:
                shutil.rmtree(old, ignore_errors=True)
    return venv
