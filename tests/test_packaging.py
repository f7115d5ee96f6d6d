"""The built wheel installs by README.rst's recipe and runs the echo examples.

Steps, all in a temporary directory and bounded in time:

1. build the wheel from this checkout (``python -m build --wheel``);
2. create a fresh venv and install exactly as README.rst says
   (``pip install sockjs-cyclone`` -- here the wheel file -- then
   ``pip install --no-deps cyclone==1.3``);
3. run examples/echo.py and examples/old_api/echo.py (the 1.x README's
   program), unchanged, with that venv's Python and complete an
   XHR round trip plus an iframe fetch against it on 127.0.0.1:8888.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The README's echo service, and the one the 1.x README had (it must run unchanged).
ECHOES = (REPO_ROOT / "examples" / "echo.py", REPO_ROOT / "examples" / "old_api" / "echo.py")
# The example is the original README's, verbatim: it listens on all
# interfaces, port 8888.  We only ever connect to 127.0.0.1.
ECHO_PORT = 8888
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 600
STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 10.0
COPY_IGNORE = (
    ".git",
    ".venv",
    ".tox",
    "node_modules",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".coverage*",
    ".hypothesis",
)


def _clean_env() -> dict[str, str]:
    """The environment without anything that points Python at this checkout."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(name, None)
    # Coverage's subprocess hook must not try to follow the venv we create.
    for name in list(env):
        if name.startswith("COVERAGE_"):
            del env[name]
    return env


def _run(args: list[str], cwd: Path, timeout: float) -> str:
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_until_listening(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"echo.py exited with {proc.returncode}:\n{log.read_text()}")
        if not _port_is_free(ECHO_PORT):
            return
        time.sleep(0.1)
    pytest.fail(
        f"echo.py not listening on {ECHO_PORT} after {STARTUP_TIMEOUT} s:\n{log.read_text()}"
    )


def _check_wheel_contents(wheel: Path) -> None:
    """Namespace layout, py.typed, no stray top-level packages, no cyclone pin."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
    assert "sockjs/__init__.py" not in names  # PEP 420 namespace
    assert "sockjs/cyclone/__init__.py" in names
    assert "sockjs/protocol/__init__.py" in names
    assert "sockjs/cyclone/py.typed" in names
    assert {n.split("/")[0] for n in names} == {"sockjs", dist_info}, names
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not any("cyclone" in line.lower() for line in requires), requires
    assert any(line.startswith("Requires-Dist: twisted") for line in requires), requires


def _post(path: str, body: bytes = b"") -> tuple[int, bytes]:
    return _request("POST", path, body)


def _request(method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", ECHO_PORT, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.timeout(BUILD_TIMEOUT + 2 * INSTALL_TIMEOUT + 120)
def test_wheel_installs_by_readme_recipe_and_runs_echo(tmp_path: Path) -> None:
    if not _port_is_free(ECHO_PORT):
        pytest.fail(f"port {ECHO_PORT} is busy (is `make demo` running?); echo.py needs it")

    # 1. Build from a copy of the sources, so the checkout gets no build/ or egg-info.
    src = tmp_path / "src"
    shutil.copytree(
        REPO_ROOT,
        src,
        ignore=shutil.ignore_patterns(*COPY_IGNORE),
    )
    dist = tmp_path / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)]
    _run(build, src, BUILD_TIMEOUT)
    wheels = list(dist.glob("sockjs_cyclone-2.0.0a2-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    _check_wheel_contents(wheels[0])

    # 2. A fresh venv, the README's two commands.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "--disable-pip-version-check", "install", "-q"]
    _run([*pip, str(wheels[0])], tmp_path, INSTALL_TIMEOUT)
    _run([*pip, "--no-deps", "cyclone==1.3"], tmp_path, INSTALL_TIMEOUT)

    # The package comes from the venv (not this checkout) and is typed.
    where = _run(
        [py, "-c", "import sockjs.cyclone, sockjs.protocol, sys; print(sockjs.cyclone.__file__)"],
        tmp_path,
        60,
    ).strip()
    assert Path(where).is_relative_to(venv), where
    assert (Path(where).parent / "py.typed").is_file()

    # 3. Each echo program as it is, run from a directory with nothing else in it.
    for number, echo in enumerate(ECHOES):
        _run_echo(py, echo, tmp_path / f"run{number}")


def _run_echo(py: str, echo: Path, run_dir: Path) -> None:
    run_dir.mkdir()
    shutil.copy(echo, run_dir / "echo.py")
    log = run_dir / "echo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [py, "echo.py"],
            cwd=run_dir,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_listening(proc, log)
        base = f"/echo/000/{uuid.uuid4().hex}"
        assert _post(base + "/xhr") == (200, b"o\n")
        assert _post(base + "/xhr_send", b'["hi"]') == (204, b"")
        assert _post(base + "/xhr") == (200, b'a["hi"]\n')
        status, body = _request("GET", "/echo/iframe.html")
        assert status == 200, body
        assert b"<script" in body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    assert b"Traceback" not in log.read_bytes(), log.read_text()
