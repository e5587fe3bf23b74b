"""Servers for the course: find PostgreSQL and RabbitMQ, or start throwaway ones.

Notebook 08 and the server tests need a PostgreSQL and a RabbitMQ. This module finds them, and
when nothing answers, starts private, throwaway ones from the binaries installed on your
machine, in the project's ``.services/`` folder, on free loopback ports::

    from eda_kit import services
    services.postgres_url()   # 'postgresql://postgres@127.0.0.1:5432/test', or a throwaway's
    services.amqp_url()       # 'amqp://guest:guest@127.0.0.1:5672/', or a throwaway's
    services.ensure()         # both at once: Servers(postgres=..., amqp=..., started=(...))

From a shell, the same code: ``make services`` (``python -m eda_kit.services start``) and
``make services-stop``. Where to look first: ``EDA_POSTGRES_URL`` and ``EDA_AMQP_URL``
(defaults: the servers of a standard local install, below); then the throwaway servers recorded
in ``.services/state.json``. Only when neither answers is anything started.

What a throwaway server is:

- **PostgreSQL**: ``initdb`` (trust authentication on 127.0.0.1 only, superuser ``postgres``)
  and ``pg_ctl start`` with its own port and no Unix socket. ``pg_ctl`` refuses to run as root,
  so as root the server runs as the ``postgres`` user (or a system user ``eda-services``,
  created if needed), through ``runuser``.
- **RabbitMQ**: ``rabbitmq-server`` with every path (data, logs, config, plugins, Erlang
  cookie) inside ``.services/rabbitmq-<port>/``, its own node name ``eda-<port>@localhost`` and
  its own ports. Each Erlang node also listens on a *distribution* port (for ``rabbitmqctl`` and
  clustering), by default the AMQP port + 20000, which can collide with another node or even be
  above 65535 for a random port; so it gets a free port of its own (``RABBITMQ_DIST_PORT``), and
  its own ``epmd`` (the Erlang port mapper) on a private port, stopped with it.

Nothing here needs more than the standard library; it never touches the machine's own servers.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import InvalidValue, ServicesUnavailable

__all__ = [
    "DEFAULT_AMQP_URL",
    "DEFAULT_POSTGRES_URL",
    "PostgresServer",
    "Servers",
    "RabbitMQServer",
    "ServicesUnavailable",
    "amqp_url",
    "answers",
    "ensure",
    "find",
    "missing",
    "postgres_url",
    "services_dir",
    "start",
    "stop",
]

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
KINDS = ("postgres", "rabbitmq")
NAMES = {"postgres": "PostgreSQL", "rabbitmq": "RabbitMQ"}
ENV = {"postgres": "EDA_POSTGRES_URL", "rabbitmq": "EDA_AMQP_URL"}
DEFAULTS = {"postgres": DEFAULT_POSTGRES_URL, "rabbitmq": DEFAULT_AMQP_URL}
INSTALL = {
    "postgres": "apt-get install postgresql / brew install postgresql@15",
    "rabbitmq": "apt-get install rabbitmq-server / brew install rabbitmq",
}
START_TIMEOUT = 90.0  # seconds; RabbitMQ takes ~10 s to boot on a quiet 2-core machine


# --- is anything there? ---------------------------------------------------------------------


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def answers(url: str, timeout: float = 1.0) -> bool:
    """Does a PostgreSQL (``postgresql://``) or AMQP (``amqp://``) server answer at ``url``?

    A protocol greeting, not just an open port: PostgreSQL must answer an SSL request with
    ``S`` or ``N``; an AMQP broker must answer the protocol header with a method frame.
    """
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        hello, port = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"), 5432

        def good(reply: bytes) -> bool:
            return reply[:1] in (b"S", b"N")
    elif scheme in ("amqp", "amqps"):
        hello, port = b"AMQP\x00\x00\x09\x01", 5672

        def good(reply: bytes) -> bool:
            return reply[:1] == b"\x01"
    else:
        raise InvalidValue(f"answers() knows postgresql:// and amqp:// URLs, not {url!r}")
    try:
        with socket.create_connection(_host_port(url, port), timeout=timeout) as sock:
            sock.sendall(hello)
            return good(sock.recv(8))
    except OSError:
        return False


def services_dir() -> Path:
    """Where throwaway servers live: ``EDA_SERVICES_DIR``, else ``.services`` in the project.

    The project is the nearest folder at or above the current one holding ``pyproject.toml``
    (so notebooks, run from ``notebooks/``, find the same servers as ``make services``).
    """
    if os.environ.get("EDA_SERVICES_DIR"):
        return Path(os.environ["EDA_SERVICES_DIR"]).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder / ".services"
    return here / ".services"


def _state_file(root: Path) -> Path:
    return root / "state.json"


def _load_state(root: Path) -> dict[str, dict[str, object]]:
    try:
        return json.loads(_state_file(root).read_text())
    except (OSError, ValueError):
        return {}


def _save_state(root: Path, state: dict[str, dict[str, object]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    _state_file(root).write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def find(kind: str, root: Path | None = None) -> str | None:
    """The URL of a ``kind`` server that answers (configured first, then throwaway), or None."""
    _check_kind(kind)
    configured = os.environ.get(ENV[kind]) or DEFAULTS[kind]
    if answers(configured):
        return configured
    recorded = _load_state(root or services_dir()).get(kind)
    if recorded and answers(str(recorded["url"])):
        return str(recorded["url"])
    return None


def missing(kind: str) -> str | None:
    """``None`` if a ``kind`` server can be started here, else one line saying what to install."""
    _check_kind(kind)
    found = _postgres_binary("pg_ctl") if kind == "postgres" else _rabbitmq_script()
    if found is not None:
        return None
    return (
        f"{NAMES[kind]}: nothing answers at {os.environ.get(ENV[kind]) or DEFAULTS[kind]} "
        f"and its binaries are not installed ({INSTALL[kind]}, see README 'Servers'), "
        f"or set {ENV[kind]}"
    )


def _url(kind: str, root: Path | None) -> str:
    found = find(kind, root)
    if found is not None:
        return found
    problem = missing(kind)
    if problem is not None:
        raise ServicesUnavailable(problem)
    return start(kind, root)


def postgres_url(root: Path | None = None) -> str:
    """A PostgreSQL that answers: the configured one, a running throwaway, or a new throwaway."""
    return _url("postgres", root)


def amqp_url(root: Path | None = None) -> str:
    """A RabbitMQ that answers: the configured one, a running throwaway, or a new throwaway."""
    return _url("rabbitmq", root)


@dataclass(frozen=True)
class Servers:
    """What :func:`ensure` found: both URLs, and the throwaway servers it started just now."""

    postgres: str
    amqp: str
    started: tuple[str, ...] = ()  # e.g. "PostgreSQL at postgresql://...:41234/test"

    def __str__(self) -> str:
        """One line: both answer, and (when it started any) which throwaways, and how to stop
        them."""
        if not self.started:
            return "PostgreSQL and RabbitMQ answer."
        return (
            "PostgreSQL and RabbitMQ answer; started throwaway "
            + " and ".join(self.started)
            + " in .services/ (they keep running: `make services-stop` ends them)."
        )


def ensure(root: Path | None = None) -> Servers:
    """A PostgreSQL and a RabbitMQ that answer, found or started (see :func:`postgres_url`).

    Both are looked for before anything is started, so when one cannot be found nor started,
    ``ServicesUnavailable`` says in one line what is missing, naming *every* missing server,
    and nothing was started."""
    found = {kind: find(kind, root) for kind in KINDS}
    problems = [missing(kind) for kind in KINDS if found[kind] is None]
    if any(problems):
        raise ServicesUnavailable(" | ".join(problem for problem in problems if problem))
    started = []
    for kind in KINDS:
        if found[kind] is None:
            found[kind] = start(kind, root)
            started.append(f"{NAMES[kind]} at {found[kind]}")
    return Servers(str(found["postgres"]), str(found["rabbitmq"]), tuple(started))


def start(kind: str, root: Path | None = None) -> str:
    """Start a throwaway ``kind`` server in ``root`` (recorded in its state file); its URL."""
    _check_kind(kind)
    root = root or services_dir()
    server: PostgresServer | RabbitMQServer
    server = PostgresServer.create(root) if kind == "postgres" else RabbitMQServer.create(root)
    server.start()
    state = _load_state(root)
    state[kind] = {"url": server.url, "port": server.port, "directory": str(server.directory)}
    _save_state(root, state)
    return server.url


def stop(root: Path | None = None) -> list[str]:
    """Stop every throwaway server recorded in ``root`` and delete its files; say which."""
    root = root or services_dir()
    state = _load_state(root)
    stopped = []
    for kind, entry in sorted(state.items()):
        directory = Path(str(entry["directory"]))
        server: PostgresServer | RabbitMQServer
        if kind == "postgres":
            server = PostgresServer(directory, int(str(entry["port"])))
        else:
            server = RabbitMQServer(directory, int(str(entry["port"])))
        server.stop()
        if isinstance(server, PostgresServer):
            server.remove()
        else:
            shutil.rmtree(directory, ignore_errors=True)  # throwaway: nothing in it is kept
        stopped.append(f"{NAMES[kind]} at {server.url}")
    if _state_file(root).exists():
        _state_file(root).unlink()
    return stopped


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidValue(f"kind must be one of {KINDS}, not {kind!r}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(check: object, timeout: float, what: str, log: Path | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise ServicesUnavailable(f"{what} did not answer within {timeout:.0f} s{tail}")


# --- PostgreSQL -----------------------------------------------------------------------------


def _postgres_binary(name: str) -> str | None:
    """``pg_ctl``/``initdb``: on PATH, else where Debian, Homebrew and Postgres.app put them."""
    found = shutil.which(name)
    if found:
        return found
    patterns = [
        "/usr/lib/postgresql/*/bin",
        "/opt/homebrew/opt/postgresql*/bin",
        "/usr/local/opt/postgresql*/bin",
        "/usr/pgsql-*/bin",
        "/Applications/Postgres.app/Contents/Versions/latest/bin",
    ]
    candidates = [path for pattern in patterns for path in glob.glob(f"{pattern}/{name}")]
    candidates.sort(
        key=lambda path: [
            int(part) if part.isdigit() else 0 for part in path.replace("@", "/").split("/")
        ]
    )
    return candidates[-1] if candidates else None


def _run_as() -> list[str]:
    """The command prefix that drops root for ``pg_ctl`` (empty when not root)."""
    if os.geteuid() != 0:
        return []
    user = _service_user()
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"]
    entry = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups"]


def _service_user() -> str:
    for name in ("postgres", "eda-services"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "eda-services"],
        check=True,
        capture_output=True,
    )
    return "eda-services"


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster in ``directory`` on 127.0.0.1:``port``."""

    directory: Path
    port: int

    @classmethod
    def create(cls, root: Path, port: int | None = None) -> PostgresServer:
        """A new, not yet started, cluster folder under ``root`` (initdb runs on start)."""
        port = port or free_port()
        directory = root / f"postgres-{port}"
        if os.geteuid() == 0 and not cls._reachable_by_service_user(root):
            # The service user can't reach the project folder (e.g. it is under /root).
            directory = Path(tempfile.gettempdir()) / "eda_kit-services" / f"postgres-{port}"
        return cls(directory, port)

    @staticmethod
    def _reachable_by_service_user(root: Path) -> bool:
        root.mkdir(parents=True, exist_ok=True)
        probe = subprocess.run([*_run_as(), "test", "-x", str(root)], capture_output=True)
        return probe.returncode == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        pg_ctl = _postgres_binary("pg_ctl")
        if pg_ctl is None:
            raise ServicesUnavailable(missing("postgres") or "pg_ctl is missing")
        return subprocess.run(
            [*_run_as(), pg_ctl, "-D", str(self.data), *args],
            capture_output=True,
            text=True,
            check=check,
        )

    def _initdb(self) -> None:
        initdb = _postgres_binary("initdb")
        if initdb is None:
            raise ServicesUnavailable(missing("postgres") or "initdb is missing")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_service_user())
            for path in (self.directory.parent, self.directory):
                if path.name.startswith(("eda_kit-services", "postgres-")):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                *_run_as(),
                initdb,
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise ServicesUnavailable(f"initdb failed: {result.stderr.strip()[-500:]}")

    def running(self) -> bool:
        return answers(self.url, timeout=0.5)

    def start(self) -> None:
        """Start the server (creating the cluster the first time); wait until it answers."""
        if self.running():
            return
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = f"-p {self.port} -h 127.0.0.1 -k ''"
        result = self._pg_ctl(
            "-l", str(self.log), "-o", options, "-w", "-t", "60", "start", check=False
        )
        if result.returncode != 0:
            raise ServicesUnavailable(
                f"PostgreSQL did not start on port {self.port}: {result.stderr.strip()[-300:]}"
                f" (log: {self.log})"
            )
        _wait_until(self.running, START_TIMEOUT, f"PostgreSQL on port {self.port}", self.log)

    def stop(self, mode: str = "fast") -> None:
        """Stop it: ``"fast"`` (clean shutdown) or ``"immediate"`` (a crash: recovery on start)."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        """Delete its files (stop it first). The shared ``eda_kit-services`` folder in the
        temporary directory, used when root runs the server, goes too once nothing is left in it."""
        shutil.rmtree(self.directory, ignore_errors=True)  # throwaway: nothing in it is kept
        parent = self.directory.parent
        if parent.name == "eda_kit-services" and parent.parent == Path(tempfile.gettempdir()):
            try:
                parent.rmdir()  # only when empty: another server may still live there
            except OSError:
                pass


# --- RabbitMQ -------------------------------------------------------------------------------


def _rabbitmq_script() -> str | None:
    """The real ``rabbitmq-server`` script (not Debian's wrapper, which insists on its user)."""
    candidates = [
        shutil.which("rabbitmq-server"),
        "/usr/lib/rabbitmq/bin/rabbitmq-server",
        "/opt/homebrew/sbin/rabbitmq-server",
        "/usr/local/sbin/rabbitmq-server",
    ]
    for candidate in candidates:
        if candidate and os.path.exists(candidate):
            real = os.path.realpath(candidate)
            if os.path.basename(real) == "rabbitmq-script-wrapper":
                real = os.path.join(os.path.dirname(real), "rabbitmq-server")
            if os.access(real, os.X_OK):
                return real
    return None


@dataclass
class RabbitMQServer:
    """A throwaway RabbitMQ node in ``directory`` on 127.0.0.1:``port``."""

    directory: Path
    port: int

    @classmethod
    def create(cls, root: Path, port: int | None = None) -> RabbitMQServer:
        port = port or free_port()
        return cls(root / f"rabbitmq-{port}", port)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    @property
    def node(self) -> str:
        return f"eda-{self.port}@localhost"

    def _ports(self) -> dict[str, int]:
        """The node's distribution and epmd ports, chosen once and kept (so restarts match)."""
        path = self.directory / "ports.json"
        if path.exists():
            return json.loads(path.read_text())
        ports = {"dist": free_port(), "epmd": free_port()}
        path.write_text(json.dumps(ports))
        return ports

    def _environment(self) -> dict[str, str]:
        d = self.directory
        ports = self._ports()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_"))
        }
        env.update(
            {
                "HOME": str(d / "home"),  # the Erlang cookie lives here, private to this node
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(ports["dist"]),
                "ERL_EPMD_PORT": str(ports["epmd"]),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
                # Erlang distribution on loopback only, like everything else here.
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
                "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
                "RABBITMQ_LOG_BASE": str(d / "log"),
                "RABBITMQ_PID_FILE": str(d / "beam.pid"),
            }
        )
        return env

    def _prepare(self) -> None:
        d = self.directory
        for folder in (d, d / "home", d / "mnesia", d / "log"):
            folder.mkdir(parents=True, exist_ok=True)
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "disk_free_limit.absolute = 50MB\n"  # a small disk must not block publishers
            "log.console = false\n"
            "log.file.level = warning\n"
        )
        (d / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq/rabbitmq-env.conf
        (d / "enabled_plugins").write_text("[].\n")

    def running(self) -> bool:
        return answers(self.url, timeout=0.5)

    def _beam_pid(self) -> int | None:
        try:
            return int((self.directory / "beam.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        """Start the node (in the background); wait until it answers AMQP."""
        if self.running():
            return
        script = _rabbitmq_script()
        if script is None:
            raise ServicesUnavailable(missing("rabbitmq") or "rabbitmq-server is missing")
        self._prepare()
        (self.directory / "beam.pid").unlink(missing_ok=True)
        with open(self.log, "ab") as log:
            subprocess.Popen(
                [script],
                env=self._environment(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        _wait_until(self.running, START_TIMEOUT, f"RabbitMQ on port {self.port}", self.log)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM to the Erlang VM), then its private epmd."""
        self._signal(signal.SIGTERM)
        epmd = shutil.which("epmd")
        if epmd and (self.directory / "ports.json").exists():
            subprocess.run(
                [epmd, "-port", str(self._ports()["epmd"]), "-kill"],
                capture_output=True,
                env=self._environment(),
            )

    def kill(self) -> None:
        """``kill -9`` the broker: no shutdown at all (durable messages survive on disk)."""
        self._signal(signal.SIGKILL)

    def _signal(self, which: signal.Signals) -> None:
        pid = self._beam_pid()
        if pid is None:
            return
        try:
            os.kill(pid, which)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def restart(self) -> None:
        self._signal(signal.SIGTERM)
        self.start()


# --- the command line: make services / make services-stop -----------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m eda_kit.services",
        description="Find PostgreSQL and RabbitMQ, or start throwaway ones in .services/.",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--only", choices=KINDS, help="just one of the two")
    args = parser.parse_args(argv)
    kinds = [args.only] if args.only else list(KINDS)
    root = services_dir()
    if args.command == "stop":
        stopped = stop(root)
        print("stopped: " + ", ".join(stopped) if stopped else "no throwaway servers were running")
        return 0
    status = 0
    for kind in kinds:
        url = find(kind, root)
        if url is not None:
            print(f"{NAMES[kind]}: answers at {url}")
        elif args.command == "status":
            print(f"{NAMES[kind]}: nothing answers")
            status = 1
        elif (problem := missing(kind)) is not None:
            print(problem)
            status = 1
        else:
            print(f"{NAMES[kind]}: starting a throwaway server in {root} ...", flush=True)
            url = start(kind, root)
            print(f"{NAMES[kind]}: answers at {url}")
        if url is not None and url != (os.environ.get(ENV[kind]) or DEFAULTS[kind]):
            print(
                f"    (tests and notebooks find it; for your own scripts: export {ENV[kind]}={url})"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
