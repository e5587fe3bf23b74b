"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per run.

``make e2e`` runs ``pytest tests/e2e``. Nothing here touches your home directory or the committed
notebooks:

- ``lab`` starts JupyterLab on 127.0.0.1 with a random free port and a random token. HOME and
  every Jupyter, IPython, matplotlib and XDG directory point into a temporary folder, so no
  workspace, setting or announcement pop-up leaks in from (or out to) your own setup. The
  notebooks are copied there with their outputs cleared; the tests run those copies.
- ``chromium`` is Debian's Chromium (``/usr/bin/chromium``) driven by Playwright's sync API,
  with its own temporary HOME. Playwright's own browser download is never used; set
  ``EDA_E2E_CHROMIUM`` to use another Chromium binary.
- ``notebook`` opens one notebook, runs all its cells and waits for the kernel to go idle. It is
  module-scoped and parametrised, so pytest runs every test for one notebook before opening the
  next: notebooks run one after another in the one server.

Failures leave a screenshot, the page's HTML, the browser console log and the server log under
``tests/e2e/artifacts/`` (gitignored); the failure report prints the folder.

``EDA_E2E_NOTEBOOKS=<folder>`` runs the tests against the notebooks in another folder (used to
prove that a broken notebook makes the tests fail without touching the real ones).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from notebook_page import (  # next to this file; pytest puts its folder on sys.path
    ARTIFACTS,
    NOTEBOOK_DIR,
    ROOT,
    NotebookRun,
    has_replay_player,
    notebooks,
    open_and_run,
)
from playwright.sync_api import Browser, sync_playwright

SERVER_START_TIMEOUT = 90  # seconds; generous, for a cold start on a busy 2-core CI machine
RUN_ALL_TIMEOUT = 180  # seconds per notebook, for all its cells

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # we run as root in CI containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab user settings written into the throwaway settings folder.
LAB_SETTINGS = {
    # `--LabApp.news_url=None` alone does not stop the "news" toast.
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # Render every cell, so the tests can see every output without scrolling.
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give each test that asks for ``notebook`` the notebooks it applies to.

    Tests marked ``replay_player`` get only the notebooks that build a ReplayPlayer. The fixture is
    module-scoped, so pytest groups all tests of one notebook together.
    """
    if "notebook" not in metafunc.fixturenames:
        return
    paths = notebooks()
    if metafunc.definition.get_closest_marker("replay_player"):
        paths = [path for path in paths if has_replay_player(path)]
    metafunc.parametrize(
        "notebook",
        [servers_or_skip(path.name) for path in paths],
        ids=[path.stem for path in paths],
        indirect=True,
        scope="module",
    )


def servers_or_skip(name: str) -> Any:
    """Notebook 08 is skipped (one line: what is missing) when its servers can't be had here,
    unless EDA_REQUIRE_SERVICES=1; see notebooks/conftest.py."""
    if name != "08_postgres_and_rabbitmq.ipynb" or os.environ.get("EDA_REQUIRE_SERVICES") == "1":
        return name
    from eda_kit import services

    for kind in services.KINDS:
        if services.find(kind) is None and (problem := services.missing(kind)) is not None:
            return pytest.param(name, marks=pytest.mark.skip(reason=problem))
    return name


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "replay_player: runs only for notebooks with a ReplayPlayer")


# --- the JupyterLab server ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clear_outputs(path: Path) -> None:
    """Clear outputs and prompts, as a learner's fresh copy would look after a restart."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)


@dataclass
class Lab:
    """A running JupyterLab server: its URL, token, working folder and log."""

    url: str
    token: str
    work_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def notebook_url(self, name: str) -> str:
        # `?reset` starts from an empty workspace, so no tabs from an earlier run reopen.
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API (``/api/<path>``) with the token; the JSON answer."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel, so one notebook's kernel never runs next to the next one's."""
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")


def private_dirs(base: Path, names: list[str]) -> dict[str, str]:
    """A copy of this process's environment with each variable in ``names`` (and HOME) set to a
    fresh folder under ``base``, so whatever a program saves lands there and nowhere else."""
    env = dict(os.environ)
    for name in ["HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", *names]:
        folder = base / name.lower()
        folder.mkdir(parents=True)
        env[name] = str(folder)
    return env


def isolated_env(base: Path) -> dict[str, str]:
    """The server's environment: every config, data, cache and runtime folder under ``base``."""
    env = private_dirs(
        base,
        [
            "IPYTHONDIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_RUNTIME_DIR",
            "JUPYTERLAB_SETTINGS_DIR",
            "JUPYTERLAB_WORKSPACES_DIR",
            "MPLCONFIGDIR",
        ],
    )
    # The kernel (this venv's `python3`, found under sys.prefix/share/jupyter, which the
    # isolated JUPYTER_DATA_DIR does not hide) imports eda_kit from this checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Notebook 08 finds (or starts) its servers where `make services` keeps them.
    env.setdefault("EDA_SERVICES_DIR", str(ROOT / ".services"))
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_TOKEN", None)
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"])
    for plugin, values in LAB_SETTINGS.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")
    return env


def start_lab(base: Path, work_dir: Path, log_path: Path) -> Lab:
    """Start JupyterLab and wait until its API answers; a port taken meanwhile gets a retry."""
    env = isolated_env(base)
    attempts_left = 3
    while True:
        attempts_left -= 1
        try:
            return start_lab_once(env, work_dir, log_path)
        except PortTaken:
            if not attempts_left:
                raise


class PortTaken(RuntimeError):
    """The free port we picked was taken before JupyterLab could bind it."""


def start_lab_once(env: dict[str, str], work_dir: Path, log_path: Path) -> Lab:
    token = secrets.token_hex(24)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",  # fail loudly instead of silently moving to another port
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={work_dir}",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to run commands
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with log_path.open("w", encoding="utf-8") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            command,
            cwd=work_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, work_dir, log_path, process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text(encoding="utf-8")
            error = PortTaken if "already in use" in output else RuntimeError
            raise error(
                f"JupyterLab exited with code {process.returncode}; log: {log_path}\n"
                + output[-3000:]
            )
        try:
            lab.api("GET", "status")
            return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"JupyterLab gave no answer in {SERVER_START_TIMEOUT} s; log: {log_path}")


def stop_lab(lab: Lab) -> None:
    lab.process.terminate()
    try:
        lab.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=15)


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A temporary folder for everything the run writes; removed at the end."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # what is left after the run is this run's
    ARTIFACTS.mkdir()
    base = Path(tempfile.mkdtemp(prefix="eda-e2e-"))
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def lab(scratch: Path) -> Iterator[Lab]:
    """A JupyterLab server serving fresh, output-free copies of the notebooks under test."""
    # The checkout's layout, so links like ../docs/img/... in markdown cells resolve.
    work_dir = scratch / "work"
    skip = shutil.ignore_patterns(".ipynb_checkpoints", "*.db", "*.db-*", "*.sqlite")
    shutil.copytree(NOTEBOOK_DIR, work_dir / "notebooks", ignore=skip)
    if (ROOT / "docs").is_dir():
        shutil.copytree(ROOT / "docs", work_dir / "docs", ignore=skip)
    for path in (work_dir / "notebooks").glob("*.ipynb"):
        clear_outputs(path)
    server = start_lab(scratch / "lab", work_dir, ARTIFACTS / "jupyterlab.log")
    try:
        yield server
    finally:
        stop_lab(server)


# --- the browser --------------------------------------------------------------------------


def chromium_path() -> str:
    path = os.environ.get("EDA_E2E_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "the browser tests need Debian's Chromium: `apt-get install chromium` "
            "(or set EDA_E2E_CHROMIUM to a Chromium binary)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def chromium(scratch: Path) -> Iterator[Browser]:
    """Headless Chromium with its own home (its crash-report and cache folders land there)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=CHROMIUM_FLAGS,
            env=private_dirs(scratch / "browser", []),
        )
        try:
            yield browser
        finally:
            browser.close()


# --- one notebook, opened and run ---------------------------------------------------------


def save_artifacts(run: NotebookRun, label: str) -> Path:
    """Screenshot, HTML and console log of the page, plus the server log; returns the folder."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", label)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run.page.screenshot(path=folder / "screenshot.png", full_page=True)
        (folder / "page.html").write_text(run.page.content(), encoding="utf-8")
    except Exception as error:  # the page may be gone; keep what we can
        (folder / "screenshot-error.txt").write_text(repr(error), encoding="utf-8")
    (folder / "console.log").write_text("\n".join(run.console) + "\n", encoding="utf-8")
    log = ARTIFACTS / "jupyterlab.log"
    if log.exists():
        shutil.copy(log, folder / "jupyterlab.log")
    return folder


@pytest.fixture(scope="module")
def notebook(request: pytest.FixtureRequest, lab: Lab, chromium: Browser) -> Iterator[NotebookRun]:
    """The notebook ``request.param`` opened in a fresh page, all cells run, the kernel idle."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    run = NotebookRun(f"notebooks/{request.param}", page, console=[])
    page.on("console", lambda message: run.console.append(f"[{message.type}] {message.text}"))
    page.on("pageerror", lambda error: run.console.append(f"[pageerror] {error}"))
    try:
        open_and_run(lab, run, timeout=RUN_ALL_TIMEOUT)
    except Exception as error:
        folder = save_artifacts(run, f"{run.stem}-run")
        context.close()
        lab.shutdown_kernels()
        raise AssertionError(f"{run.name}: {error}\n  artifacts: {folder}") from error
    yield run
    context.close()
    lab.shutdown_kernels()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """When a test fails, save the page's screenshot and console log and say where they are."""
    report = yield
    run = getattr(item, "funcargs", {}).get("notebook")
    if report.failed and report.when == "call" and isinstance(run, NotebookRun):
        folder = save_artifacts(run, item.name)
        report.sections.append(("e2e artifacts", f"screenshot and console log: {folder}"))
        print(f"\ne2e artifacts for {item.nodeid}: {folder}", file=sys.stderr)
    return report
