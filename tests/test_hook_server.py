"""The backend process (build/hook_server.py through frontend.Backend): one process per
source and build environment, one backend import, and still a pristine process state for
every hook; failures, missing hooks, fallbacks, output and clean-up as before.

The backend here is an in-tree module (`backend-path`) run by this interpreter, so each
test observes what the hooks saw without building real projects (tests/test_build.py
covers setuptools, hatchling and flit-core end to end).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wherry.build.frontend import Backend, HookMissing, hook_environ
from wherry.errors import BuildError
from wherry.output import DEBUG, log

BACKEND = '''\
import atexit, json, os, shutil, sys, tempfile, time, zipfile

LOG = os.environ["HOOKTEST_LOG"]
COUNTER = [0]

def _log(*words):
    with open(LOG, "a") as handle:
        handle.write(" ".join(str(w) for w in words) + "\\n")

_log("import", os.getpid())
SCRATCH = tempfile.mkdtemp(prefix="hooktest-")  # made at import, removed at exit
atexit.register(shutil.rmtree, SCRATCH, True)

def state():
    return {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": os.environ.get("HOOKTEST_SET"),
            "counter": COUNTER[0], "module": "hooktest_leak" in sys.modules,
            "pid": os.getpid(), "ppid": os.getppid(), "scratch": SCRATCH,
            "scratch_exists": os.path.isdir(SCRATCH)}

def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires", os.getpid())
    print("get_requires output")
    seen = state()
    # What setuptools and friends do to the process: none of it may reach the next hook.
    sys.argv[1:] = ["egg_info", "--egg-base", "x"]
    os.environ["HOOKTEST_SET"] = "leaked"
    COUNTER[0] += 1
    sys.modules["hooktest_leak"] = sys
    os.chdir(os.path.dirname(os.getcwd()))
    atexit.register(_log, "atexit", os.getpid())  # the hook's own: run when it ends
    return [json.dumps(seen)]

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _log("prepare_metadata", os.getpid())
    settings = config_settings or {}
    if settings.get("exit"):
        print("about to exit")
        sys.exit(settings["exit"])
    if settings.get("no_newline"):
        sys.stdout.write("no newline at the end")
    if settings.get("warn"):
        import warnings
        warnings.warn("backend says careful", UserWarning)
    name = "hooktest-1.0.dist-info"
    os.mkdir(os.path.join(metadata_directory, name))
    with open(os.path.join(metadata_directory, name, "state.json"), "w") as handle:
        json.dump(state(), handle)
    with open(os.path.join(metadata_directory, name, "METADATA"), "w") as handle:
        handle.write("Metadata-Version: 2.1\\nName: hooktest\\nVersion: 1.0\\n\\n")
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel", os.getpid())
    settings = config_settings or {}
    if settings.get("sleep"):
        with open(settings["pidfile"], "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(float(settings["sleep"]))
    if settings.get("fail"):
        print("the compiler exploded", file=sys.stderr)
        raise RuntimeError("asked to fail")
    name = "hooktest-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        archive.writestr("hooktest-1.0.dist-info/METADATA",
                         "Metadata-Version: 2.1\\nName: hooktest\\nVersion: 1.0\\n\\n")
        archive.writestr("hooktest-1.0.dist-info/RECORD", "")
    return name
'''


def write_project(root: Path, *, metadata_hook: bool = True) -> Path:
    source = BACKEND
    if not metadata_hook:
        source = source.replace("def prepare_metadata_for_build_wheel",
                                "def _no_prepare_metadata_for_build_wheel")
    (root / "backend").mkdir(parents=True)
    (root / "backend" / "hooktest_backend.py").write_text(source)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "hooktest_backend"\n'
        'backend-path = ["backend"]\n')
    return root


@pytest.fixture
def hook_log(tmp_path: Path) -> Path:
    return tmp_path / "hooks.log"


def make_backend(tree: Path, hook_log: Path, *, python: str = sys.executable,
                 backend: str = "hooktest_backend",
                 backend_path: tuple[str, ...] = ("backend",)) -> Backend:
    environ = hook_environ(None)
    environ["HOOKTEST_LOG"] = str(hook_log)
    environ.pop("HOOKTEST_SET", None)
    return Backend(tree, backend, backend_path, python, environ, "hooktest==1.0")


def logged(hook_log: Path, word: str) -> list[int]:
    return [int(line.split()[1]) for line in hook_log.read_text().splitlines()
            if line.split()[0] == word]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_one_import_and_a_pristine_state_for_every_hook(
    tree: Path, hook_log: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with make_backend(tree, hook_log) as backend:
        first = json.loads(backend.call("get_requires_for_build_wheel",
                                        config_settings=None)[0])
        name = backend.call("prepare_metadata_for_build_wheel", metadata_directory=str(out),
                            config_settings=None, _allow_fallback=False)
        wheel = backend.call("build_wheel", wheel_directory=str(out), config_settings=None)
    second = json.loads((out / name / "state.json").read_text())
    assert wheel == "hooktest-1.0-py3-none-any.whl" and (out / wheel).is_file()
    # The backend was imported once, by one process; each hook ran in its own child.
    imports = logged(hook_log, "import")
    assert len(imports) == 1
    hooks = [*logged(hook_log, "get_requires"), *logged(hook_log, "prepare_metadata"),
             *logged(hook_log, "build_wheel")]
    assert len(set(hooks)) == 3 and imports[0] not in hooks
    assert first["ppid"] == second["ppid"] == imports[0]
    # Nothing the first hook changed reached the second one.
    for seen in (first, second):
        assert seen["cwd"] == str(tree)
        assert seen["env"] is None and seen["counter"] == 0 and seen["module"] is False
        assert seen["argv"] == first["argv"]
        assert seen["scratch_exists"]  # not removed by the exit of an earlier hook
    assert logged(hook_log, "atexit") == [first["pid"]]
    assert gone(imports[0])  # the backend process ended with the `with` block
    assert not os.path.exists(first["scratch"])  # ... and ran the import's exit handlers


def test_a_failed_hook_names_the_hook_and_shows_only_its_own_output(
    tree: Path, hook_log: Path, tmp_path: Path,
) -> None:
    with make_backend(tree, hook_log) as backend:
        backend.call("get_requires_for_build_wheel", config_settings=None)
        with pytest.raises(BuildError) as failed:
            backend.call("build_wheel", wheel_directory=str(tmp_path),
                         config_settings={"fail": "1"})
        message = str(failed.value)
        assert "failed to build hooktest==1.0: the `build_wheel` hook of `hooktest_backend`" \
            " failed (exit status 1)" in message
        assert "the compiler exploded" in message and "RuntimeError: asked to fail" in message
        assert "get_requires output" not in message
        assert "rerun with -v" in (failed.value.hint or "")
        # The process survived its hook's failure: the next hook still runs in it.
        assert backend.call("build_wheel", wheel_directory=str(tmp_path),
                            config_settings=None) == "hooktest-1.0-py3-none-any.whl"
    assert len(logged(hook_log, "import")) == 1


def test_sys_exit_in_a_hook_is_its_exit_status(
    tree: Path, hook_log: Path, tmp_path: Path,
) -> None:
    with make_backend(tree, hook_log) as backend, pytest.raises(BuildError) as failed:
        backend.call("prepare_metadata_for_build_wheel", metadata_directory=str(tmp_path),
                     config_settings={"exit": 3}, _allow_fallback=False)
    assert "`prepare_metadata_for_build_wheel` hook" in str(failed.value)
    assert "(exit status 3)" in str(failed.value) and "about to exit" in str(failed.value)


def test_output_without_a_final_newline_and_streaming_at_debug(
    tree: Path, hook_log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(log, "level", DEBUG)
    with make_backend(tree, hook_log) as backend:
        name = backend.call("prepare_metadata_for_build_wheel",
                            metadata_directory=str(tmp_path),
                            config_settings={"no_newline": "1", "warn": "1"},
                            _allow_fallback=False)
    assert name == "hooktest-1.0.dist-info"
    err = capsys.readouterr().err
    assert "[hooktest==1.0] no newline at the end\n" in err
    assert "Calling prepare_metadata_for_build_wheel of hooktest_backend for hooktest" in err
    assert "Build backend warning: backend says careful" in err


def test_missing_metadata_hook_and_the_build_fallback(
    tmp_path: Path, hook_log: Path,
) -> None:
    tree = write_project(tmp_path / "project", metadata_hook=False)
    meta = tmp_path / "meta" / "dir"
    meta.mkdir(parents=True)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with make_backend(tree, hook_log) as backend:
        with pytest.raises(HookMissing):
            backend.call("prepare_metadata_for_build_wheel", metadata_directory=str(meta),
                         config_settings=None, _allow_fallback=False)
        name = backend.call("prepare_metadata_for_build_wheel", metadata_directory=str(meta),
                            config_settings=None, _allow_fallback=True)
        assert name == "hooktest-1.0.dist-info"
        assert (meta / name / "METADATA").is_file()
        # build_wheel with that metadata copies the wheel the fallback built.
        wheel = backend.call("build_wheel", wheel_directory=str(wheels), config_settings=None,
                             metadata_directory=str(meta / name))
    assert (wheels / wheel).is_file()
    assert len(logged(hook_log, "build_wheel")) == 1


def test_an_unimportable_backend(tree: Path, hook_log: Path) -> None:
    with make_backend(tree, hook_log, backend="no_such_backend", backend_path=()) as backend, \
            pytest.raises(BuildError) as failed:
        backend.call("get_requires_for_build_wheel", config_settings=None)
    message = str(failed.value)
    assert "the build backend `no_such_backend` cannot be imported" in message
    assert "Cannot import 'no_such_backend'" in message
    assert "build-system.requires" in (failed.value.hint or "")


def test_an_in_tree_backend_missing_from_backend_path(tree: Path, hook_log: Path) -> None:
    (tree / "elsewhere").mkdir()
    with make_backend(tree, hook_log, backend_path=("elsewhere",)) as backend, \
            pytest.raises(BuildError, match=r"cannot be imported \(Cannot find module"):
        backend.call("get_requires_for_build_wheel", config_settings=None)


@pytest.mark.parametrize(("entry", "why"), [("../outside", "paths must be inside source tree"),
                                            ("/absolute", "paths must be relative")])
def test_backend_path_must_be_inside_the_project(
    tree: Path, hook_log: Path, entry: str, why: str,
) -> None:
    with make_backend(tree, hook_log, backend_path=(entry,)) as backend, \
            pytest.raises(BuildError, match=why):
        backend.call("get_requires_for_build_wheel", config_settings=None)


def test_stopping_the_backend_process_ends_the_running_hook(
    tree: Path, hook_log: Path, tmp_path: Path,
) -> None:
    """What `kill()` (an error or Ctrl-C in wherry) sends: SIGTERM, which the backend
    process passes on to the hook under way before it exits."""
    pidfile = tmp_path / "hook.pid"
    errors: list[BaseException] = []
    backend = make_backend(tree, hook_log)

    def build() -> None:
        try:
            backend.call("build_wheel", wheel_directory=str(tmp_path),
                         config_settings={"sleep": "60", "pidfile": str(pidfile)})
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    deadline = time.monotonic() + 30
    while not (pidfile.is_file() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    hook_pid = int(pidfile.read_text())
    server_pid = logged(hook_log, "import")[0]
    os.kill(server_pid, signal.SIGTERM)
    thread.join(30)
    assert not thread.is_alive()
    assert gone(hook_pid) and gone(server_pid)
    assert len(errors) == 1 and isinstance(errors[0], BuildError)
    assert "`build_wheel` hook" in str(errors[0])
    backend.close()


def test_kill_and_close_end_an_idle_backend_process(tree: Path, hook_log: Path) -> None:
    for end in ("kill", "close"):
        backend = make_backend(tree, hook_log)
        backend.call("get_requires_for_build_wheel", config_settings=None)
        server_pid = logged(hook_log, "import")[-1]
        getattr(backend, end)()
        assert gone(server_pid)
        backend.close()  # a second end is harmless


@pytest.fixture
def python_without_fork(tmp_path: Path) -> Iterator[str]:
    """An interpreter on which `os.fork` does not exist (as on Windows)."""
    wrapper = tmp_path / "python-without-fork"
    code = ("import os, runpy, sys; del os.fork; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} -c \"{code}\" \"$@\"\n")
    wrapper.chmod(0o755)
    yield str(wrapper)


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell wrapper")
def test_without_fork_each_hook_gets_its_own_process(
    tree: Path, hook_log: Path, tmp_path: Path, python_without_fork: str,
) -> None:
    with make_backend(tree, hook_log, python=python_without_fork) as backend:
        first = json.loads(backend.call("get_requires_for_build_wheel",
                                        config_settings=None)[0])
        name = backend.call("prepare_metadata_for_build_wheel",
                            metadata_directory=str(tmp_path), config_settings=None,
                            _allow_fallback=False)
    second = json.loads((tmp_path / name / "state.json").read_text())
    imports = logged(hook_log, "import")
    assert len(imports) == 2 and imports == [first["pid"], second["pid"]]
    assert second["env"] is None and second["counter"] == 0 and second["cwd"] == str(tree)


def test_a_source_is_built_by_the_process_that_prepared_its_metadata(
    tmp_path: Path, hook_log: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Metadata during resolution, the wheel at install: one tree, one backend process
    (kept by the build environments in between), ended when they close."""
    from wherry.build.builder import Builder, Source
    from wherry.build.cache import source_for_sdist
    from wherry.build.env import BuildEnvironments
    from wherry.build.options import BuildOptions
    from wherry.cache.layout import Cache
    from wherry.python.info import query_interpreter

    project = write_project(tmp_path / "project")
    copies: list[Path] = []

    def materialise(work: Path) -> Path:
        copies.append(work / "hooktest-1.0")
        shutil.copytree(project, copies[-1])
        return copies[-1]

    monkeypatch.setenv("HOOKTEST_LOG", str(hook_log))
    cache = Cache.at(tmp_path / "cache")
    target = query_interpreter(sys.executable, cache)
    environments = BuildEnvironments(target, installer=None,  # type: ignore[arg-type]
                                     make_dir=lambda: cache.tempdir(prefix="env-"))
    builder = Builder(target, ["py3-none-any"], cache, BuildOptions(isolation=False),
                      environments)
    source = Source(source_for_sdist("cd" * 32, "hooktest==1.0"), "hooktest", "hooktest==1.0",
                    materialise)
    with environments.session():
        assert builder.metadata(source) is not None
        wheel = builder.wheel(source)
        assert b"Name: hooktest" in builder.metadata(source)  # from the cache now
        server = logged(hook_log, "import")
        assert len(server) == 1 and not gone(server[0], timeout=0)
    assert wheel.name == "hooktest-1.0-py3-none-any.whl" and wheel.is_file()
    assert len(copies) == 1 and not copies[0].exists()  # one tree, deleted after the build
    assert [line.split()[0] for line in hook_log.read_text().splitlines()
            if not line.startswith("atexit")] == [
        "import", "get_requires", "prepare_metadata", "build_wheel"]
    assert gone(server[0])


def test_a_relative_interpreter_path_still_runs_in_the_project_tree(
    tree: Path, hook_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A build environment under a relative `--cache-dir` has a relative interpreter path;
    the backend process starts in the project tree, where it would point nowhere."""
    monkeypatch.chdir(tmp_path)
    python = os.path.relpath(sys.executable, tmp_path)
    with make_backend(tree, hook_log, python=python) as backend:
        assert backend.call("get_requires_for_build_wheel", config_settings=None)
