"""Start Redis, N sockjs-cyclone processes and HAProxy on 127.0.0.1, together.

    python examples/cluster/run.py [--processes 2] [--base-port 8001] [--port 8080]
                                   [--redis-port 0] [--app broadcast|test-server]
                                   [--broker redis|redis-streams]

Then open http://127.0.0.1:8080/ in a few tabs.  What it starts:

* ``redis-server`` on 127.0.0.1 (a free port unless ``--redis-port``), with
  no persistence and a temporary directory of its own: never the system's
  Redis service;
* N processes of the app on consecutive ports from ``--base-port`` (0: any
  free ports), all pointed at that Redis: ``broadcast`` is
  ``examples/cluster/server.py`` (the broadcast example on Redis, the first
  process ticking), ``test-server`` is ``examples/test_server.py --redis``;
* ``haproxy`` in the foreground with a copy of ``haproxy.cfg`` (next to this
  file) that has the chosen ports and one ``server`` line per process.

A process that dies is reported and the others keep running (kill one to
see its clients move to another).  Ctrl-C (or SIGTERM) stops them all, by
PID, HAProxy first.  Everything each one printed is in the temporary
directory shown at start (removed after a clean stop, kept when something
failed to start).  The
:class:`Cluster` class does the same for the cluster tests and benchmarks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
HAPROXY_TEMPLATE = HERE / "haproxy.cfg"
APPS = {
    "broadcast": HERE / "server.py",
    "test-server": REPO_ROOT / "examples" / "test_server.py",
}
HOST = "127.0.0.1"
#: The brokers the apps can share their channels through (the app's flag).
BROKERS = {"redis": "--redis", "redis-streams": "--redis-streams"}
_LISTENING = re.compile(r"listening on http://[^\s:]+:(\d+)")
_SERVER_LINE = re.compile(r"(?P<indent>[ \t]*)server app\d+ \S+(?P<rest>.*)")


class ClusterError(RuntimeError):
    """A part of the cluster did not start (the message says which and why)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def render_haproxy_config(template: str, port: int, backends: Sequence[tuple[str, int]]) -> str:
    """``haproxy.cfg`` with the frontend on ``port`` and one server per (name, port).

    The first ``server appN`` line is the model of all of them: its options
    are kept, and ``cookie appN`` becomes the new server's name.
    """
    lines = template.splitlines()
    found = [i for i, line in enumerate(lines) if _SERVER_LINE.fullmatch(line)]
    binds = [i for i, line in enumerate(lines) if line.lstrip().startswith("bind ")]
    if not found or len(binds) != 1:
        raise ClusterError("the HAProxy template needs one 'bind' and a 'server app1' line")
    model = _SERVER_LINE.fullmatch(lines[found[0]])
    assert model is not None
    servers = [
        f"{model['indent']}server {name} {HOST}:{backend_port}"
        + re.sub(r"\bcookie \S+", f"cookie {name}", model["rest"])
        for name, backend_port in backends
    ]
    indent = lines[binds[0]][: len(lines[binds[0]]) - len(lines[binds[0]].lstrip())]
    lines[binds[0]] = f"{indent}bind {HOST}:{port}"
    rest = [line for i, line in enumerate(lines) if i > found[0] and i not in found]
    return "\n".join([*lines[: found[0]], *servers, *rest]) + "\n"


class Process:
    """One child process, its output going to a log file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.port = 0
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                _with_parent_death_signal(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env=env,
            )

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether it is still running."""
        return self.popen.poll() is None

    def output(self) -> str:
        """Everything it printed so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Send ``sig`` (by PID), wait, and SIGKILL it if it does not end in time."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    # If this process dies without stopping its children (killed by a CI
    # timeout), setpriv makes the kernel send them SIGTERM, so no Redis or
    # HAProxy is left behind.  setpriv execs the command: the PID stays its.
    setpriv = shutil.which("setpriv")
    if setpriv is None or not sys.platform.startswith("linux"):
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


class Cluster:
    """Redis, ``processes`` app processes and HAProxy, all on 127.0.0.1."""

    def __init__(
        self,
        processes: int = 2,
        *,
        base_port: int = 8001,
        port: int = 8080,
        redis_port: int = 0,
        app: str = "broadcast",
        app_args: Sequence[str] = (),
        broker: str = "redis",
        redis_args: Sequence[str] = (),
        redis_password: str | None = None,
        redis_tls: dict[str, Path] | None = None,
        workdir: Path | None = None,
        python: str = sys.executable,
        startup_timeout: float = 30.0,
    ) -> None:
        if processes < 1:
            raise ValueError("need at least one process")
        if app not in APPS:
            raise ValueError(f"app must be one of {sorted(APPS)}")
        if broker not in BROKERS or (broker != "redis" and app != "test-server"):
            raise ValueError(f"broker must be one of {sorted(BROKERS)} (redis for {app})")
        self.count = processes
        self.base_port = base_port
        self.port = port or free_port()
        self.redis_port = redis_port or free_port()
        # Ports picked here may be taken by someone else before use: then
        # start() picks again (a port given by the caller is kept).
        self._pick_port = not port
        self._pick_redis_port = not redis_port
        self.app = app
        self.app_args = list(app_args)
        self.broker = broker
        #: More redis-server options (persistence for restart tests...).
        self.redis_args = list(redis_args)
        self.redis_password = redis_password
        #: ``cert``, ``key`` and ``ca`` files: Redis also listens with TLS, and
        #: the apps use it (``rediss://localhost:...``, trusting ``ca``).
        self.redis_tls = redis_tls
        self.redis_tls_port = free_port() if redis_tls else 0
        self.python = python
        self.startup_timeout = startup_timeout
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="sockjs-cluster-"))
        self.redis: Process | None = None
        self.haproxy: Process | None = None
        self.servers: list[Process] = []
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
        )

    @property
    def url(self) -> str:
        """Where clients connect (HAProxy)."""
        return f"http://{HOST}:{self.port}"

    @property
    def redis_url(self) -> str:
        """The ``redis://`` (or ``rediss://``) URL the processes use."""
        auth = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        if self.redis_tls:
            return f"rediss://{auth}localhost:{self.redis_tls_port}"
        return f"redis://{auth}{HOST}:{self.redis_port}"

    def start(self) -> Cluster:
        """Start Redis, the processes and HAProxy; on any failure stop all and raise."""
        try:
            self._retrying(self.start_redis, "redis_port", self._pick_redis_port)
            self.start_servers()
            self._retrying(self.start_haproxy, "port", self._pick_port)
        except BaseException:
            self.stop()
            raise
        return self

    def _retrying(self, start: Callable[[], Process], port_attribute: str, pick: bool) -> None:
        for attempt in range(3):
            try:
                start()
                return
            except ClusterError:
                if not pick or attempt == 2:
                    raise
                setattr(self, port_attribute, free_port())

    def stop(self) -> None:
        """Stop everything still running, by PID: HAProxy, the processes, Redis."""
        for process in [self.haproxy, *self.servers, self.redis]:
            if process is not None:
                process.stop()

    def cleanup(self) -> None:
        """Remove the temporary directory (logs included) if this cluster made it."""
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- Redis ----------------------------------------------------------------------

    def start_redis(self) -> Process:
        """Start (or restart) redis-server on :attr:`redis_port` and wait for PONG."""
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir(exist_ok=True)
        argv = [
            _binary("redis-server"),
            "--bind", HOST,
            "--port", str(self.redis_port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(redis_dir),
            "--daemonize", "no",
        ]  # fmt: skip
        if self.redis_password:
            argv += ["--requirepass", self.redis_password]
        if self.redis_tls:
            argv += ["--tls-port", str(self.redis_tls_port), "--tls-auth-clients", "no"]
            argv += ["--tls-cert-file", str(self.redis_tls["cert"])]
            argv += ["--tls-key-file", str(self.redis_tls["key"])]
            argv += ["--tls-ca-cert-file", str(self.redis_tls["ca"])]
        argv += self.redis_args
        self.redis = Process("redis", argv, self.workdir / "redis.log", self.env)
        redis = self.redis
        _wait_for(
            lambda: _redis_is(redis, self.redis_port, self.redis_password),
            redis,
            self.startup_timeout,
        )
        return self.redis

    def stop_redis(self, sig: int = signal.SIGTERM) -> None:
        """Stop redis-server (SIGTERM, or ``sig``, by PID)."""
        if self.redis is not None:
            self.redis.stop(sig)

    def redis_command(self, *args: str | bytes) -> bytes:
        """Send one command to Redis (the plain port); its raw reply (one line: ``:1``...)."""
        command = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg.encode() if isinstance(arg, str) else arg
            command.append(b"$%d\r\n%s\r\n" % (len(data), data))
        with socket.create_connection((HOST, self.redis_port), timeout=5) as sock:
            sock.sendall(_auth(self.redis_password) + b"".join(command))
            lines = 2 if self.redis_password else 1  # the replies used here are one line
            reply = b""
            while reply.count(b"\r\n") < lines and (chunk := sock.recv(65536)):
                reply += chunk
            return reply.removeprefix(b"+OK\r\n") if self.redis_password else reply

    # -- app processes ----------------------------------------------------------------

    def start_servers(self) -> list[Process]:
        """Start the app processes and wait until each one listens."""
        for index in range(self.count):
            port = self.base_port + index if self.base_port else 0
            self.servers.append(self._start_server(index, port))
        for server in self.servers:
            _wait_for(lambda server=server: _listening_port(server), server, self.startup_timeout)
            server.port = _listening_port(server)
        return self.servers

    def _start_server(self, index: int, port: int) -> Process:
        argv = [self.python, str(APPS[self.app]), "--port", str(port)]
        argv += [BROKERS[self.broker], self.redis_url]
        if self.app == "broadcast" and index == 0:
            argv.append("--ticker")
        argv += self.app_args
        name = f"app{index + 1}"
        env = dict(self.env)
        if self.redis_tls:  # Twisted's default trust (OpenSSL's) reads SSL_CERT_FILE
            env["SSL_CERT_FILE"] = str(self.redis_tls["ca"])
        return Process(name, argv, self.workdir / f"{name}.log", env)

    def server(self, name: str) -> Process:
        """The app process called ``name`` (``app1``, ``app2``, ... as HAProxy names them)."""
        for server in self.servers:
            if server.name == name:
                return server
        raise KeyError(name)

    # -- HAProxy ----------------------------------------------------------------------

    def start_haproxy(self) -> Process:
        """Write the HAProxy configuration, start it and wait until it answers."""
        config = render_haproxy_config(
            HAPROXY_TEMPLATE.read_text(encoding="utf-8"),
            self.port,
            [(server.name, server.port) for server in self.servers],
        )
        config_path = self.workdir / "haproxy.cfg"
        config_path.write_text(config, encoding="utf-8")
        argv = [_binary("haproxy"), "-db", "-f", str(config_path)]
        self.haproxy = Process("haproxy", argv, self.workdir / "haproxy.log", self.env)
        _wait_for(lambda: _proxied_ok(self.port, "/broadcast/info"), self.haproxy, 15.0)
        return self.haproxy


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        raise ClusterError(f"{name} not found: install the Debian package (make test does)")
    return path


def _wait_for(ready: object, process: Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if callable(ready) and ready():
            return
        if not process.alive():
            raise ClusterError(
                f"{process.name} exited with {process.popen.returncode}:\n{process.output()}"
            )
        if time.monotonic() > deadline:
            raise ClusterError(f"{process.name} not ready after {timeout} s:\n{process.output()}")
        time.sleep(0.05)


def _listening_port(process: Process) -> int:
    match = _LISTENING.search(process.output())
    return int(match.group(1)) if match else 0


def _redis_is(process: Process, port: int, password: str | None = None) -> bool:
    """Whether ``process`` is the Redis answering on ``port`` (not some other one)."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(_auth(password) + b"INFO server\r\n")
            reply = b""
            while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return f"process_id:{process.pid}\r\n".encode() in reply


def _auth(password: str | None) -> bytes:
    """AUTH as a RESP array (the password may contain anything), or nothing."""
    if not password:
        return b""
    data = password.encode()
    return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(data), data)


def _proxied_ok(port: int, path: str) -> bool:
    """Whether our HAProxy answers ``path`` with 200 (its X-Served-By header says so)."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head and (chunk := sock.recv(4096)):
                head += chunk
    except OSError:
        return False
    return head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) and b"x-served-by:" in head.lower()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _watch(cluster: Cluster) -> None:
    """Report every process that exits (the others keep running) until interrupted."""
    processes = [p for p in [cluster.redis, cluster.haproxy, *cluster.servers] if p]
    reported: set[int] = set()
    while True:
        for process in processes:
            if process.pid not in reported and not process.alive():
                reported.add(process.pid)
                print(
                    f"{process.name} (pid {process.pid}) exited with "
                    f"{process.popen.returncode}; the others keep running",
                    file=sys.stderr,
                    flush=True,
                )
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, print where it is, and stop it on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--base-port", type=int, default=8001, help="first app port (0: any)")
    parser.add_argument("--port", type=int, default=8080, help="HAProxy port (0: any)")
    parser.add_argument("--redis-port", type=int, default=0, help="Redis port (0: any)")
    parser.add_argument("--app", choices=sorted(APPS), default="broadcast")
    parser.add_argument(
        "--broker", choices=sorted(BROKERS), default="redis", help="redis-streams: test-server only"
    )
    args = parser.parse_args(argv)

    cluster = Cluster(
        args.processes,
        base_port=args.base_port,
        port=args.port,
        redis_port=args.redis_port,
        app=args.app,
        broker=args.broker,
    )
    # SIGTERM interrupts like Ctrl-C does: both stop everything.
    signal.signal(signal.SIGTERM, _interrupt)
    status = 0
    try:
        cluster.start()
        print(f"redis    pid {cluster.redis.pid if cluster.redis else '?'}  {cluster.redis_url}")
        for server in cluster.servers:
            print(f"{server.name:8} pid {server.pid}  http://{HOST}:{server.port}")
        print(f"haproxy  pid {cluster.haproxy.pid if cluster.haproxy else '?'}  {cluster.url}")
        print(f"logs in {cluster.workdir}; open {cluster.url}/ (Ctrl-C stops)", flush=True)
        _watch(cluster)
    except ClusterError as error:
        print(error, file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM must not cut the stopping short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cluster.stop()
    if status == 0:
        cluster.cleanup()  # a clean stop: the logs are not needed
    else:
        print(f"logs kept in {cluster.workdir}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
