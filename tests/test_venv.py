"""Tests for `wherry venv`: real environments for every CPython found under pyenv.

A venv is only right if the interpreter agrees, so the main test runs each target Python
inside the environment it got (prefix, base prefix, site-packages on `sys.path`, no pip),
sources the activation script in a real shell, and compares every activation script byte
for byte with what that version's own `python -m venv` writes at the same path. The
remaining tests cover the `--python` forms, the flags, what happens to an existing path,
errors, rollback after a failure, and that creation spawns nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import MakeIndex, Result, RunWherry
from tests.support.packages import Wheelhouse
from wherry import __version__
from wherry.cache.layout import Cache
from wherry.commands import venv as command
from wherry.errors import EnvironmentError_
from wherry.output import Printer
from wherry.python import venv as pyvenv
from wherry.python.venv import TargetState, Template

_PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path("~/.pyenv").expanduser()) / "versions"
_VENV_DIR_NAME = "my env"  # a space: the scripts must quote the path
_SCRIPTS = ("activate", "activate.csh", "activate.fish", "Activate.ps1")
_SHELL_VARIABLES = ("NU_VERSION", "FISH_VERSION", "BASH_VERSION", "ZSH_VERSION", "KSH_VERSION")

# Run inside a venv's python: everything the tests check about the interpreter, in one go.
_INSPECT = """
import json, site, sys, sysconfig
try:
    import pip
    pip_version = getattr(pip, "__version__", "?")
except ImportError:
    pip_version = None
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "executable": sys.executable,
    "path": sys.path,
    "purelib": sysconfig.get_paths()["purelib"],
    "version": list(sys.version_info[:2]),
    "pip": pip_version,
    "user_site": site.ENABLE_USER_SITE,
}))
"""


def _find_pythons() -> dict[str, Path]:
    """`{"3.8": .../3.8.18/bin/python3.8, ...}` for the CPythons 3.8-3.13 under pyenv."""
    found: dict[str, Path] = {}
    for minor in range(8, 14):
        candidates = sorted(
            _PYENV_VERSIONS.glob(f"3.{minor}.*/bin/python3.{minor}"),
            key=lambda p: [int(x) for x in p.parents[1].name.split(".") if x.isdigit()],
        )
        if candidates:
            found[f"3.{minor}"] = candidates[-1]
    return found


PYTHONS = _find_pythons()
VERSIONS = [f"3.{minor}" for minor in range(8, 14)]


def python_for(version: str) -> Path:
    if version not in PYTHONS:
        pytest.skip(f"CPython {version} is not installed under {_PYENV_VERSIONS}")
    return PYTHONS[version]


def full_version(python: Path) -> str:
    return python.parents[1].name  # pyenv's folder name: 3.12.1


@pytest.fixture(scope="session")
def interpreter_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wherry cache for the whole module, so each interpreter is probed only once."""
    return tmp_path_factory.mktemp("venv-interpreter-cache")


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, interpreter_cache: Path) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("WHERRY_CACHE_DIR", str(interpreter_cache))
    monkeypatch.setenv("SHELL", "/bin/bash")
    for name in _SHELL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def inspect_python(python: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(python), "-c", _INSPECT], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def read_cfg(venv: Path) -> dict[str, str]:
    pairs = (line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text().splitlines())
    return {key: value for key, value in pairs}


def same_path(a: str | Path, b: str | Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def summary_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line]


def assert_one_paragraph_error(result: Result) -> None:
    assert result.returncode == 1, result
    assert result.stderr.startswith("error: "), result
    assert "Traceback" not in result.stderr, result
    assert "\n\n" not in result.stderr.strip(), result
    assert len(result.stderr.strip().splitlines()) <= 3, result


def bash_activate(venv: Path, cwd: Path) -> dict[str, str]:
    """Source `activate` in a real bash and report what it changed, then deactivate."""
    script = (
        f"source '{venv}/bin/activate' || exit 9\n"
        "echo \"prefix=$(python -c 'import sys; print(sys.prefix)')\"\n"
        'echo "virtual_env=$VIRTUAL_ENV"\n'
        'echo "ps1=$PS1"\n'
        'echo "prompt=${VIRTUAL_ENV_PROMPT-<unset>}"\n'
        'echo "which=$(command -v python)"\n'
        "deactivate\n"
        'echo "after=${VIRTUAL_ENV-<unset>}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PS1", "VIRTUAL_ENV_PROMPT")}
    proc = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def stdlib_scripts(python: Path, venv: Path, *args: str) -> dict[str, bytes]:
    """The activation scripts the target's own `python -m venv` writes at `venv`."""
    subprocess.run(
        [str(python), "-m", "venv", "--without-pip", *args, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    scripts = {name: (venv / "bin" / name).read_bytes() for name in _SCRIPTS}
    shutil.rmtree(venv)
    return scripts


# --- every version, end to end -------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_venv_for_every_python(version: str, tmp_path: Path, run_wherry: RunWherry) -> None:
    python = python_for(version)
    venv = tmp_path / _VENV_DIR_NAME
    expected_scripts = stdlib_scripts(python, venv)

    result = run_wherry("venv", _VENV_DIR_NAME, "--python", str(python), cwd=tmp_path)
    assert result.ok, result
    assert summary_lines(result) == [
        f"Using CPython {full_version(python)} interpreter at: {python}",
        f"Creating virtual environment at: {_VENV_DIR_NAME}",
        f"Activate with: source '{_VENV_DIR_NAME}/bin/activate'",
    ]
    assert result.stdout == ""

    # The layout: pyvenv.cfg, links to the real base executable, site-packages, extras.
    assert read_cfg(venv) == {
        "home": str(python.parent),
        "implementation": "CPython",
        "wherry": __version__,
        "version_info": full_version(python),
        "include-system-site-packages": "false",
    }
    bin_dir = venv / "bin"
    assert os.readlink(bin_dir / "python") == os.path.realpath(python)
    for name in ("python3", f"python{version}"):
        assert os.readlink(bin_dir / name) == "python"
    assert os.readlink(venv / "lib64") == "lib"
    assert (venv / ".gitignore").read_text() == "*"
    assert (venv / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f0688")
    assert not (venv / "lib" / f"python{version}" / "site-packages" / "pip").exists()

    # Byte for byte what this version's `python -m venv` writes at the same path.
    for name, expected in expected_scripts.items():
        assert (bin_dir / name).read_bytes() == expected, name

    # The interpreter agrees that this is a venv of its base.
    facts = inspect_python(bin_dir / "python")
    assert same_path(facts["prefix"], venv)
    assert same_path(facts["base_prefix"], python.parents[1])
    assert facts["version"] == [int(part) for part in version.split(".")]
    purelib = venv / "lib" / f"python{version}" / "site-packages"
    assert purelib.is_dir()
    assert same_path(facts["purelib"], purelib)
    assert any(same_path(entry, purelib) for entry in facts["path"])
    base = str(python.parents[1])
    assert not any("site-packages" in e and e.startswith(base) for e in facts["path"])
    assert facts["pip"] is None  # `import pip` fails
    assert facts["user_site"] is False

    # A real shell activates and deactivates it.
    shell = bash_activate(venv, tmp_path)
    assert same_path(shell["prefix"], venv)
    assert shell["virtual_env"] == str(venv)
    assert shell["ps1"].startswith(f"({_VENV_DIR_NAME}) ")
    if b"VIRTUAL_ENV_PROMPT" in expected_scripts["activate"]:
        assert shell["prompt"].strip("() ") == _VENV_DIR_NAME
    assert same_path(shell["which"], bin_dir / "python")
    assert shell["after"] == "<unset>"


# --- the --python forms --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "version"),
    [("3.12", "3.12"), ("python3.11", "3.11"), ("cpython3.13", "3.13"), ("path", "3.9")],
)
def test_python_request_forms(
    request_: str, version: str, tmp_path: Path, run_wherry: RunWherry
) -> None:
    python = python_for(version)
    wanted = str(python) if request_ == "path" else request_
    result = run_wherry("venv", "--python", wanted, cwd=tmp_path)
    assert result.ok, result
    venv = tmp_path / ".venv"  # the default path
    assert "Creating virtual environment at: .venv" in result.stderr
    assert read_cfg(venv)["version_info"].startswith(version + ".")
    base = os.readlink(venv / "bin" / "python")
    assert os.path.isabs(base) and os.path.realpath(base) == base  # the real executable
    assert inspect_python(venv / "bin" / "python")["version"] == [3, int(version[2:])]


@pytest.mark.parametrize("version", ["3.10", "3.12"])
@pytest.mark.parametrize("form", ["python", "directory"])
def test_python_in_a_venv_uses_its_base(
    version: str, form: str, tmp_path: Path, run_wherry: RunWherry
) -> None:
    """3.8-3.10 report the venv's own python as `sys._base_executable`; never link to it."""
    python = python_for(version)
    outer = tmp_path / "outer"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(outer)], check=True)
    request_ = str(outer / "bin" / "python") if form == "python" else str(outer)
    result = run_wherry("venv", "inner", "--python", request_, cwd=tmp_path)
    assert result.ok, result
    inner = tmp_path / "inner"
    assert os.readlink(inner / "bin" / "python") == os.path.realpath(python)
    assert read_cfg(inner)["home"] == str(python.parent)
    facts = inspect_python(inner / "bin" / "python")
    assert same_path(facts["base_prefix"], python.parents[1])
    assert same_path(facts["prefix"], inner)


def test_default_python_is_first_on_path(tmp_path: Path, run_wherry: RunWherry) -> None:
    python = python_for("3.10")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    result = run_wherry("venv", cwd=tmp_path, env={"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin"})
    assert result.ok, result
    assert read_cfg(tmp_path / ".venv")["version_info"] == full_version(python)


# --- flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.8", "3.13"])  # both prompt conventions
def test_prompt(version: str, tmp_path: Path, run_wherry: RunWherry) -> None:
    python = python_for(version)
    venv = tmp_path / "env"
    expected = stdlib_scripts(python, venv, "--prompt", "my prompt")
    result = run_wherry(
        "venv", "env", "--python", str(python), "--prompt", "my prompt", cwd=tmp_path
    )
    assert result.ok, result
    assert read_cfg(venv)["prompt"] == "my prompt"
    for name, data in expected.items():
        assert (venv / "bin" / name).read_bytes() == data, name
    shell = bash_activate(venv, tmp_path)
    assert shell["ps1"].startswith("(my prompt) ")


def test_prompt_dot_is_the_current_directory(tmp_path: Path, run_wherry: RunWherry) -> None:
    project = tmp_path / "my-project"
    project.mkdir()
    result = run_wherry("venv", "--python", str(python_for("3.12")), "--prompt", ".", cwd=project)
    assert result.ok, result
    assert read_cfg(project / ".venv")["prompt"] == "my-project"
    assert bash_activate(project / ".venv", project)["ps1"].startswith("(my-project) ")


def test_system_site_packages(tmp_path: Path, run_wherry: RunWherry) -> None:
    python = python_for("3.12")
    result = run_wherry(
        "venv", "env", "--python", str(python), "--system-site-packages", cwd=tmp_path
    )
    assert result.ok, result
    assert read_cfg(tmp_path / "env")["include-system-site-packages"] == "true"
    facts = inspect_python(tmp_path / "env" / "bin" / "python")
    base_site = python.parents[1] / "lib" / "python3.12" / "site-packages"
    own_site = tmp_path / "env" / "lib" / "python3.12" / "site-packages"
    paths = [os.path.realpath(entry) for entry in facts["path"]]
    assert os.path.realpath(base_site) in paths
    assert paths.index(os.path.realpath(own_site)) < paths.index(os.path.realpath(base_site))


# --- existing paths ------------------------------------------------------------------------


def test_existing_venv_is_replaced(tmp_path: Path, run_wherry: RunWherry) -> None:
    assert run_wherry("venv", "env", "--python", str(python_for("3.11")), cwd=tmp_path).ok
    leftover = tmp_path / "env" / "lib" / "python3.11" / "site-packages" / "leftover.py"
    leftover.write_text("")
    result = run_wherry("venv", "env", "--python", str(python_for("3.12")), cwd=tmp_path)
    assert result.ok, result
    assert "warning" not in result.stderr
    assert not (tmp_path / "env" / "lib" / "python3.11").exists()
    assert read_cfg(tmp_path / "env")["version_info"].startswith("3.12.")


def test_replacing_the_venv_given_as_python(tmp_path: Path, run_wherry: RunWherry) -> None:
    python = python_for("3.10")
    assert run_wherry("venv", "env", "--python", str(python), cwd=tmp_path).ok
    result = run_wherry("venv", "env", "--python", "env/bin/python", cwd=tmp_path)
    assert result.ok, result
    assert os.readlink(tmp_path / "env" / "bin" / "python") == str(python)
    assert same_path(
        inspect_python(tmp_path / "env" / "bin" / "python")["prefix"], tmp_path / "env"
    )


def test_existing_directory_is_an_error(tmp_path: Path, run_wherry: RunWherry) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    result = run_wherry("venv", "project", "--python", str(python_for("3.12")), cwd=tmp_path)
    assert_one_paragraph_error(result)
    assert "the directory project exists and is not a virtual environment" in result.stderr
    assert "--clear" in result.stderr
    assert sorted(os.listdir(target)) == ["keep.txt"]


def test_clear_removes_the_contents(tmp_path: Path, run_wherry: RunWherry) -> None:
    target = tmp_path / "project"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "old.txt").write_text("")
    (target / "link").symlink_to(tmp_path / "elsewhere")
    result = run_wherry(
        "venv", "project", "--clear", "--python", str(python_for("3.12")), cwd=tmp_path
    )
    assert result.ok, result
    assert not (target / "sub").exists() and not os.path.lexists(target / "link")
    assert same_path(inspect_python(target / "bin" / "python")["prefix"], target)


def test_allow_existing_keeps_the_contents(tmp_path: Path, run_wherry: RunWherry) -> None:
    target = tmp_path / "project"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    outside = tmp_path / "outside.cfg"
    outside.write_text("not yours")
    (target / "pyvenv.cfg").symlink_to(outside)  # replaced, never written through
    python = str(python_for("3.12"))
    result = run_wherry("venv", "project", "--allow-existing", "--python", python, cwd=tmp_path)
    assert result.ok, result
    assert (target / "keep.txt").read_text() == "precious"
    assert outside.read_text() == "not yours"
    assert not (target / "pyvenv.cfg").is_symlink()
    again = run_wherry("venv", "project", "--allow-existing", "--python", python, cwd=tmp_path)
    assert again.ok, again
    assert (target / "keep.txt").read_text() == "precious"
    assert same_path(inspect_python(target / "bin" / "python")["prefix"], target)


def test_empty_directory_is_used(tmp_path: Path, run_wherry: RunWherry) -> None:
    (tmp_path / "empty").mkdir()
    result = run_wherry("venv", ".", "--python", str(python_for("3.12")), cwd=tmp_path / "empty")
    assert result.ok, result
    assert "Creating virtual environment at: .\n" in result.stderr
    assert (tmp_path / "empty" / "pyvenv.cfg").is_file()


def test_clear_refuses_a_parent_of_the_current_directory(
    tmp_path: Path, run_wherry: RunWherry
) -> None:
    (tmp_path / "project" / "src").mkdir(parents=True)
    result = run_wherry(
        "venv",
        "..",
        "--clear",
        "--python",
        str(python_for("3.12")),
        cwd=tmp_path / "project" / "src",
    )
    assert_one_paragraph_error(result)
    assert "refusing" in result.stderr
    assert (tmp_path / "project" / "src").is_dir()


# --- errors and atomicity ------------------------------------------------------------------


def test_missing_interpreter(tmp_path: Path, run_wherry: RunWherry) -> None:
    result = run_wherry("venv", "deep/env", "--python", "3.99", cwd=tmp_path)
    assert_one_paragraph_error(result)
    assert "3.99" in result.stderr
    assert os.listdir(tmp_path) == []


def test_path_is_a_file(tmp_path: Path, run_wherry: RunWherry) -> None:
    (tmp_path / "file").write_text("x")
    python = str(python_for("3.12"))
    for path in ("file", "file/env"):
        result = run_wherry("venv", path, "--python", python, cwd=tmp_path)
        assert_one_paragraph_error(result)
        assert "not a directory" in result.stderr or "is a file" in result.stderr
    assert (tmp_path / "file").read_text() == "x"


def test_clear_and_allow_existing_conflict(tmp_path: Path, run_wherry: RunWherry) -> None:
    result = run_wherry("venv", "--clear", "--allow-existing", cwd=tmp_path)
    assert result.returncode == 2
    assert "not allowed with" in result.stderr




@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("existed", [False, True])
def test_failure_leaves_nothing_behind(
    failure: BaseException,
    existed: bool,
    tmp_path: Path,
    interpreter_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    python = python_for("3.12")
    if existed:
        (tmp_path / "a" / "b").mkdir(parents=True)
    request = command.VenvRequest(path="a/b", python=str(python))
    plan = command.prepare_venv(request, Cache.at(interpreter_cache), cwd=tmp_path)
    real_write = pyvenv.write_venv

    def failing_write(layout: pyvenv.VenvLayout) -> None:
        real_write(layout._replace(files=layout.files[:2]))  # half done, then...
        raise failure

    monkeypatch.setattr(command, "write_venv", failing_write)
    expected: type[BaseException] = (
        EnvironmentError_ if isinstance(failure, OSError) else KeyboardInterrupt
    )
    with pytest.raises(expected):
        command.create_venv(plan, Cache.at(interpreter_cache), Printer(quiet=True))
    if existed:
        assert os.listdir(tmp_path / "a" / "b") == []
    else:
        assert os.listdir(tmp_path) == []


def test_creation_is_fast_and_spawns_nothing(
    tmp_path: Path, interpreter_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = Cache.at(interpreter_cache)
    python = python_for("3.12")
    command.prepare_venv(
        command.VenvRequest(path="warm", python=str(python)), cache, cwd=tmp_path
    )  # probes (once) and caches the interpreter

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("wherry venv must not start a process")

    monkeypatch.setattr(subprocess.Popen, "__init__", no_subprocess)
    start = time.perf_counter()
    plan = command.prepare_venv(
        command.VenvRequest(path="env", python=str(python)), cache, cwd=tmp_path
    )
    report = command.create_venv(plan, Cache.at(interpreter_cache), Printer(quiet=True))
    elapsed = time.perf_counter() - start
    assert report.seconds < 0.05, report.seconds  # measured ~0.5 ms
    assert elapsed < 0.2, elapsed
    assert (tmp_path / "env" / "pyvenv.cfg").is_file()


# --- other shells (only where installed) ---------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "argv"),
    [
        (
            "fish",
            [
                "fish",
                "--no-config",
                "-c",
                "source {bin}/activate.fish; and python -c 'import sys; print(sys.prefix)'; "
                "and echo $VIRTUAL_ENV",
            ],
        ),
        (
            "csh",
            [
                "csh",
                "-f",
                "-c",
                # Non-interactive csh has no $prompt, which activate.csh extends.
                "set prompt='% ' && source {bin}/activate.csh && "
                "python -c 'import sys; print(sys.prefix)' && echo $VIRTUAL_ENV",
            ],
        ),
        (
            "pwsh",
            [
                "pwsh",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                ". {bin}/Activate.ps1; python -c 'import sys; print(sys.prefix)'; "
                "Write-Output $env:VIRTUAL_ENV",
            ],
        ),
    ],
)
def test_other_shells(shell: str, argv: list[str], tmp_path: Path, run_wherry: RunWherry) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    assert run_wherry("venv", "env", "--python", str(python_for("3.12")), cwd=tmp_path).ok
    venv = tmp_path / "env"
    command_line = [part.replace("{bin}", str(venv / "bin")) for part in argv]
    proc = subprocess.run(command_line, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [line.strip() for line in proc.stdout.splitlines()][-2:] == [str(venv), str(venv)]


# --- --seed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "seeded"), [("3.12", ["pip"]), ("3.11", ["pip", "setuptools", "wheel"])]
)
def test_seed(
    version: str,
    seeded: list[str],
    tmp_path: Path,
    run_wherry: RunWherry,
    wheelhouse: Wheelhouse,
    make_index: MakeIndex,
) -> None:
    try:
        from wherry.commands.install import seed_environment  # noqa: F401
    except (ImportError, AttributeError):
        pytest.skip("wherry.commands.install.seed_environment does not exist yet")
    python = python_for(version)
    wheels = [
        wheelhouse.wheel(name, "99.0", files={f"{name}/__init__.py": "__version__ = '99.0'\n"})
        for name in ("pip", "setuptools", "wheel")
    ]
    index = make_index(wheels)
    env: dict[str, str | None] = {"WHERRY_INDEX_URL": index.url, "PIP_INDEX_URL": index.url}
    result = run_wherry("venv", "env", "--seed", "--python", str(python), cwd=tmp_path, env=env)
    assert result.ok, result
    assert "Creating virtual environment with seed packages at: env" in result.stderr
    assert read_cfg(tmp_path / "env")["seed"] == "true"
    assert inspect_python(tmp_path / "env" / "bin" / "python")["pip"] == "99.0"
    site = tmp_path / "env" / "lib" / f"python{version}" / "site-packages"
    for name in ("pip", "setuptools", "wheel"):
        assert (site / name).is_dir() == (name in seeded), name


# --- pure functions ------------------------------------------------------------------------


def test_replace_variables_quotes_like_the_fixed_stdlib(tmp_path: Path) -> None:
    """gh-124651 (3.9.21, 3.10.16, 3.11.11, 3.12.8, 3.13.1+) shell-quotes every value."""
    root = tmp_path / "it's a $venv"
    values = pyvenv.template_values(root, "bin", "python3.13", None, (3, 13))
    sh = pyvenv.replace_variables(
        "export VIRTUAL_ENV=__VENV_DIR__\nVIRTUAL_ENV_PROMPT=__VENV_PROMPT__\n",
        "activate",
        values,
        quoted=True,
    )
    proc = subprocess.run(
        ["bash", "-c", sh + 'printf "%s\\n%s\\n" "$VIRTUAL_ENV" "$VIRTUAL_ENV_PROMPT"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.splitlines() == [str(root), "it's a $venv"]
    ps1 = pyvenv.replace_variables("$x = __VENV_DIR__", "Activate.ps1", values, quoted=True)
    assert ps1 == "$x = '" + str(root).replace("'", "''") + "'"
    old = pyvenv.replace_variables('X="__VENV_DIR__"', "activate", values, quoted=False)
    assert old == f'X="{root}"'


def test_quoting_is_detected_from_the_target_stdlib(tmp_path: Path) -> None:
    scripts = tmp_path / "venv" / "scripts"
    (scripts / "common").mkdir(parents=True)
    (scripts / "posix").mkdir()
    (scripts / "common" / "activate").write_text("export VIRTUAL_ENV=__VENV_DIR__\n")
    (scripts / "posix" / "activate.csh").write_text("setenv VIRTUAL_ENV __VENV_DIR__\n")
    (scripts / "nt").mkdir()
    (scripts / "nt" / "activate.bat").write_text("")
    (tmp_path / "venv" / "__init__.py").write_text("import shlex\nquote = shlex.quote\n")
    loaded = pyvenv.load_templates(tmp_path)
    assert loaded.quoted
    assert [t.name for t in loaded.templates] == ["activate", "activate.csh"]
    (tmp_path / "venv" / "__init__.py").write_text("def replace_variables(): pass\n")
    assert not pyvenv.load_templates(tmp_path).quoted
    # Without the source (a sourceless stdlib), the sh template tells.
    old = [Template("activate", b'VIRTUAL_ENV="__VENV_DIR__"\n', 0o644)]
    new = [Template("activate", b"export VIRTUAL_ENV=__VENV_DIR__\n", 0o644)]
    assert not pyvenv.quotes_values(None, old)
    assert pyvenv.quotes_values(None, new)
    assert pyvenv.load_templates(tmp_path / "missing") == pyvenv.TemplateSet((), False)


def test_prompt_convention_changed_in_313() -> None:
    root = Path("/x/env")
    assert pyvenv.template_values(root, "bin", "p", None, (3, 12))["__VENV_PROMPT__"] == "(env) "
    assert pyvenv.template_values(root, "bin", "p", "p r", (3, 12))["__VENV_PROMPT__"] == "(p r) "
    assert pyvenv.template_values(root, "bin", "p", None, (3, 13))["__VENV_PROMPT__"] == "env"


def test_pyvenv_cfg_text() -> None:
    text = pyvenv.pyvenv_cfg(
        home="/py/bin",
        implementation="CPython",
        version="3.12.1",
        system_site_packages=True,
        prompt="p",
        seed=True,
    )
    assert text == (
        "home = /py/bin\nimplementation = CPython\n"
        f"wherry = {__version__}\nversion_info = 3.12.1\n"
        "include-system-site-packages = true\nseed = true\nprompt = p\n"
    )


@pytest.mark.parametrize(
    ("state", "clear", "allow", "expected"),
    [
        (TargetState.MISSING, False, False, command.Action.CREATE),
        (TargetState.MISSING, True, False, command.Action.CREATE),
        (TargetState.EMPTY, False, False, command.Action.FILL),
        (TargetState.EMPTY, True, False, command.Action.FILL),
        (TargetState.VENV, False, False, command.Action.REPLACE),
        (TargetState.VENV, True, False, command.Action.REPLACE),
        (TargetState.VENV, False, True, command.Action.OVERWRITE),
        (TargetState.DIRECTORY, True, False, command.Action.REPLACE),
        (TargetState.DIRECTORY, False, True, command.Action.OVERWRITE),
        (TargetState.DIRECTORY, False, False, EnvironmentError_),
        (TargetState.NOT_A_DIRECTORY, True, False, EnvironmentError_),
        (TargetState.PARENT_NOT_A_DIRECTORY, False, True, EnvironmentError_),
    ],
)
def test_choose_action(state: TargetState, clear: bool, allow: bool, expected: object) -> None:
    if isinstance(expected, command.Action):
        action = command.choose_action(state, clear=clear, allow_existing=allow, shown="p")
        assert action is expected
    else:
        with pytest.raises(EnvironmentError_):
            command.choose_action(state, clear=clear, allow_existing=allow, shown="p")


def test_target_state(tmp_path: Path) -> None:
    assert pyvenv.target_state(tmp_path / "none") is TargetState.MISSING
    assert pyvenv.target_state(tmp_path) is TargetState.EMPTY
    (tmp_path / "f").write_text("")
    assert pyvenv.target_state(tmp_path) is TargetState.DIRECTORY
    assert pyvenv.target_state(tmp_path / "f") is TargetState.NOT_A_DIRECTORY
    assert pyvenv.target_state(tmp_path / "f" / "x") is TargetState.PARENT_NOT_A_DIRECTORY
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert pyvenv.target_state(tmp_path / "dangling") is TargetState.NOT_A_DIRECTORY
    (tmp_path / "pyvenv.cfg").write_text("")
    assert pyvenv.target_state(tmp_path) is TargetState.VENV


def test_check_removable(tmp_path: Path) -> None:
    base = Path(sys.base_prefix) / "bin" / "python3"
    cwd = tmp_path / "project"
    protected = command.protected_paths(base, cwd)
    command.check_removable(cwd, protected, "p")  # the current directory itself is fine
    command.check_removable(cwd / ".venv", protected, "p")
    for root in (tmp_path, Path(sys.prefix), Path(sys.base_prefix), Path("/")):
        with pytest.raises(EnvironmentError_, match="refusing"):
            command.check_removable(root, protected, "p")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"SHELL": "/bin/bash"}, "source .venv/bin/activate"),
        ({"SHELL": "/usr/bin/zsh"}, "source .venv/bin/activate"),
        ({}, "source .venv/bin/activate"),
        ({"SHELL": "/bin/bash", "FISH_VERSION": "3.7"}, "source .venv/bin/activate.fish"),
        ({"SHELL": "/usr/bin/fish"}, "source .venv/bin/activate.fish"),
        ({"SHELL": "/bin/tcsh"}, "source .venv/bin/activate.csh"),
        ({"SHELL": "/usr/bin/pwsh"}, ".venv/bin/Activate.ps1"),
        ({"NU_VERSION": "0.99"}, None),
    ],
)
def test_activation_command(environ: dict[str, str], expected: str | None) -> None:
    files = tuple(pyvenv.VenvFile(f"bin/{name}", b"") for name in _SCRIPTS)
    layout = pyvenv.VenvLayout(Path("/p/.venv"), Path("/py"), "bin", (), (), (), files)
    shell = command.detect_shell(environ)
    assert command.activation_command(layout, ".venv", shell) == expected
    assert command.activation_command(layout, "my env", "bash") == "source 'my env/bin/activate'"
    assert command.activation_command(layout._replace(files=()), ".venv", "bash") is None
