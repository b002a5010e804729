"""Configuration layers (wherry.config): precedence, --no-config, `wherry config`, errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support import MakeIndex, RunWherry
from tests.support.packages import Wheelhouse
from wherry.config import BY_KEY, Config, read_pip_file


def _line(output: str, key: str) -> str:
    """The `wherry config` line of `key` (set or not)."""
    for line in output.splitlines():
        if line.startswith((f"{key} = ", f"# {key} = ")):
            return line
    raise AssertionError(f"no line for {key} in:\n{output}")


@pytest.fixture
def user_config() -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "wherry" / "wherry.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_each_precedence_level(run_wherry: RunWherry, tmp_path: Path, user_config: Path) -> None:
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\n# comment\ntimeout = 11\n\n[install]\nretries = 7\n")
    env = {"PIP_CONFIG_FILE": str(pip_conf)}

    def shown(**extra: str) -> str:
        result = run_wherry("config", cwd=project / "sub", env={**env, **extra})
        assert result.ok, result
        return _line(result.stdout, "http-timeout")

    # pip's config file, with the line and the section; [install] applies to pip commands.
    assert shown() == "http-timeout = 11.0".ljust(len(shown().split("#")[0])) + \
        f"# {pip_conf}:3 [global]"
    assert f"{pip_conf}:6 [install]" in _line(
        run_wherry("config", cwd=project, env=env).stdout, "http-retries")
    # PIP_* beats pip's files (pip's long option names work too).
    assert "# PIP_DEFAULT_TIMEOUT" in shown(PIP_DEFAULT_TIMEOUT="12")
    # The user's wherry.toml beats pip.
    user_config.write_text("# user\nhttp-timeout = 13\n")
    assert "13.0" in shown(PIP_TIMEOUT="12") and f"# {user_config}:2" in shown()
    # The project's pyproject.toml [tool.wherry], found from a subdirectory, beats the user's.
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.wherry]\nhttp-timeout = 14\n')
    assert f"# {project / 'pyproject.toml'}:5" in shown() and "14.0" in shown()
    # wherry.toml beats pyproject.toml in the same directory.
    (project / "wherry.toml").write_text("http-timeout = 15\n")
    assert f"# {project / 'wherry.toml'}:1" in shown()
    # WHERRY_* beats every file.
    assert "# WHERRY_HTTP_TIMEOUT" in shown(WHERRY_HTTP_TIMEOUT="16")
    # The command line beats everything.
    (project / "wherry.toml").write_text(f'cache-dir = "{tmp_path / "from-file"}"\n')
    result = run_wherry("config", "--cache-dir", tmp_path / "cli", cwd=project, env=env)
    assert "# command line" in _line(result.stdout, "cache-dir")
    assert f'"{tmp_path / "cli"}"' in _line(result.stdout, "cache-dir")


def test_no_config_ignores_every_file(run_wherry: RunWherry, tmp_path: Path,
                                      user_config: Path) -> None:
    (tmp_path / "wherry.toml").write_text("offline = true\n")
    user_config.write_text("http-retries = 9\n")
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\ntimeout = 11\n")
    env = {"PIP_CONFIG_FILE": str(pip_conf), "WHERRY_CONCURRENT_DOWNLOADS": "4"}
    normal = run_wherry("config", cwd=tmp_path, env=env).stdout
    assert "# WHERRY_CONCURRENT_DOWNLOADS" in _line(normal, "concurrent-downloads")
    assert f"{tmp_path / 'wherry.toml'}:1" in _line(normal, "offline")
    for args, extra in ((["--no-config"], {}), ([], {"WHERRY_NO_CONFIG": "1"})):
        result = run_wherry("config", *args, cwd=tmp_path, env={**env, **extra})
        assert result.ok, result
        assert _line(result.stdout, "offline").endswith("# default")
        assert _line(result.stdout, "http-retries").endswith("# default")
        assert _line(result.stdout, "http-timeout").endswith("# default")
        # Variables are not files: they still apply.
        assert "# WHERRY_CONCURRENT_DOWNLOADS" in _line(result.stdout, "concurrent-downloads")
    # A broken file is not even read under --no-config.
    (tmp_path / "wherry.toml").write_text("this is not toml\n")
    assert run_wherry("config", "--no-config", cwd=tmp_path).ok
    assert run_wherry("config", cwd=tmp_path).returncode == 2


def test_config_file_option_replaces_discovery(run_wherry: RunWherry, tmp_path: Path,
                                               user_config: Path) -> None:
    user_config.write_text("offline = true\n")
    chosen = tmp_path / "ci.toml"
    chosen.write_text('link-mode = "copy"\n')
    result = run_wherry("config", "--config-file", chosen, "--show-files", cwd=tmp_path)
    assert result.ok, result
    assert f"# {chosen}:1" in _line(result.stdout, "link-mode")
    assert _line(result.stdout, "offline").endswith("# default")
    assert f"{chosen} (--config-file)" in result.stdout
    missing = run_wherry("config", "--config-file", tmp_path / "nope.toml")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_wherry_config_redacts_credentials(run_wherry: RunWherry, tmp_path: Path) -> None:
    result = run_wherry("config", cwd=tmp_path,
                        env={"WHERRY_INDEX_URL": "https://me:hunter2@example.invalid/simple"})
    assert result.ok, result
    assert "hunter2" not in result.stdout
    assert "# WHERRY_INDEX_URL" in _line(result.stdout, "index-url")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('index-url = "x"\n\nlink_mode = "copy"\n', "unknown key `link_mode` in the config "
         "file {path}:3"),
        ("offline = true\nhttp-timeout = \"soon\"\n", "invalid value 'soon' for `http-timeout` "
         "in the config file {path}:2"),
        ('link-mode = "teleport"\n', "for `link-mode` in the config file {path}:1: expected "
         "one of clone, hardlink, copy, symlink"),
        ("offline = 1\n", "`offline` in the config file {path}:1: expected true or false"),
        ("offline = \n", "{path} is not valid TOML"),
        ("[pip]\nindex-url = 'x'\n", "unknown key `pip` in the config file {path}:1"),
    ],
)
def test_config_file_errors_name_file_and_line(run_wherry: RunWherry, tmp_path: Path,
                                               text: str, message: str) -> None:
    path = tmp_path / "wherry.toml"
    path.write_text(text)
    result = run_wherry("pip", "list", cwd=tmp_path)
    assert result.returncode == 2, result
    assert message.format(path=path) in result.stderr
    assert "Traceback" not in result.stderr and "hint:" in result.stderr


def test_unknown_key_suggests_the_right_one(run_wherry: RunWherry, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.wherry]\noffline = false\nindex-ur = "x"\n')
    result = run_wherry("config", cwd=tmp_path)
    assert result.returncode == 2
    assert f"unknown key `index-ur` in the config file {tmp_path / 'pyproject.toml'}:6" \
        in result.stderr
    assert "did you mean `index-url`?" in result.stderr


def test_bad_values_in_pip_files_and_variables(run_wherry: RunWherry, tmp_path: Path) -> None:
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text("[global]\nindex-url = x\n  continued\nretries = many\n")
    result = run_wherry("config", env={"PIP_CONFIG_FILE": str(pip_conf)})
    assert result.returncode == 2
    assert f"invalid value 'many' for `retries` in pip's configuration file {pip_conf}:4" \
        in result.stderr
    result = run_wherry("config", env={"WHERRY_OFFLINE": "perhaps"})
    assert result.returncode == 2 and "WHERRY_OFFLINE='perhaps' is not valid" in result.stderr


def test_pip_ini_reader_matches_configparser(tmp_path: Path) -> None:
    import configparser

    path = tmp_path / "pip.conf"
    path.write_text(
        "[global]\nextra-index-url =\n    https://a.invalid/simple\n"
        "    # a comment inside\n    https://b.invalid/simple\nfind_links: /w\n"
        "; another comment\n[install]\nno-cache-dir = false\ntrusted-host = a b\n"
        "[download]\npre = yes\n"
    )
    ours = read_pip_file(path, "install").values
    parser = configparser.RawConfigParser()
    parser.read(path)
    assert ours["extra-index-url"][0] == parser.get("global", "extra-index-url").split()
    assert ours["find-links"] == (["/w"], f"{path}:6 [global]")
    # pip disables its cache for any value of no-cache-dir.
    assert ours["no-cache"][0] is True
    assert ours["allow-insecure-host"][0] == ["a", "b"]
    assert "prerelease" not in ours
    assert read_pip_file(path, "download").values["prerelease"][0] == "allow"


def test_global_flag_before_the_command_beats_config(run_wherry: RunWherry,
                                                     tmp_path: Path) -> None:
    (tmp_path / "wherry.toml").write_text(f'cache-dir = "{tmp_path / "configured"}"\n')
    before = run_wherry("--cache-dir", tmp_path / "flag", "cache", "dir", cwd=tmp_path)
    after = run_wherry("cache", "dir", "--cache-dir", tmp_path / "flag", cwd=tmp_path)
    plain = run_wherry("cache", "dir", cwd=tmp_path, env={"WHERRY_CACHE_DIR": None})
    assert before.stdout.strip() == after.stdout.strip() == str(tmp_path / "flag")
    assert plain.stdout.strip() == str(tmp_path / "configured")


def test_settings_reach_the_commands(run_wherry: RunWherry, tmp_path: Path,
                                     make_index: MakeIndex, wheelhouse: Wheelhouse,
                                     user_config: Path) -> None:
    index = make_index([wheelhouse.wheel("alpha", "1.0", requires=["beta"]),
                        wheelhouse.wheel("beta", "1.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    project = tmp_path / "project"
    project.mkdir()
    # The index from the user's file; `no-deps` from the project's.
    user_config.write_text(f'index-url = "{index.url}"\n')
    (project / "wherry.toml").write_text("no-deps = true\n")
    result = run_wherry("pip", "install", "alpha", "--python", venv, cwd=project)
    assert result.ok, result
    assert " + alpha==1.0" in result.stderr and "beta" not in result.stderr
    # Without the files, there is no index to install beta from (the config is gone).
    broken = run_wherry("pip", "install", "beta", "--python", venv, "--no-config",
                        "--offline", cwd=project)
    assert not broken.ok
    ok = run_wherry("pip", "install", "beta", "--python", venv, cwd=project)
    assert ok.ok and " + beta==1.0" in ok.stderr


def test_config_change_invalidates_the_noop_verdict(
    run_wherry: RunWherry, tmp_path: Path, make_index: MakeIndex, wheelhouse: Wheelhouse,
) -> None:
    index = make_index([wheelhouse.wheel("solo", "1.0"), wheelhouse.wheel("solo", "2.0")])
    venv = tmp_path / "venv"
    assert run_wherry("venv", venv, "--python", sys.executable).ok
    args = ("pip", "install", "solo", "--python", venv, "--index-url", index.url)
    first = run_wherry("pip", "install", "solo==2.0", "--python", venv, "--index-url",
                       index.url, cwd=tmp_path)
    assert " + solo==2.0" in first.stderr, first
    assert "Audited 1 package" in run_wherry(*args, cwd=tmp_path).stderr
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("solo==1.0\n")
    (tmp_path / "wherry.toml").write_text(f'constraint = ["{constraints}"]\n')
    changed = run_wherry(*args, cwd=tmp_path)
    assert changed.ok, changed
    assert " - solo==2.0" in changed.stderr and " + solo==1.0" in changed.stderr
    assert "Audited 1 package" in run_wherry(*args, cwd=tmp_path).stderr
    # A setting that changes nothing still invalidates (stricter is safe) and re-audits.
    (tmp_path / "wherry.toml").write_text(
        f'constraint = ["{constraints}"]\nhttp-retries = 1\n')
    assert "Audited 1 package" in run_wherry(*args, cwd=tmp_path).stderr


def test_layers_in_process(tmp_path: Path, user_config: Path) -> None:
    user_config.write_text("http-timeout = 5\ncache-max-size = '2G'\n")
    config = Config(cwd=tmp_path)
    found = config.get("http-timeout")
    assert found is not None and found.value == 5.0 and found.origin == f"{user_config}:1"
    assert config.value("cache-max-size") == 2 * 1024 ** 3
    exported: dict[str, str] = {}
    config.export(exported)
    assert exported == {"WHERRY_HTTP_TIMEOUT": "5.0"}
    # An exported variable the user set already is left alone.
    kept = {"WHERRY_HTTP_TIMEOUT": "1"}
    config.export(kept)
    assert kept == {"WHERRY_HTTP_TIMEOUT": "1"}
    assert Config(cwd=tmp_path, no_config=True).get("http-timeout") is None
    assert BY_KEY["allow-insecure-host"].env == "WHERRY_INSECURE_HOST"


def test_paths_in_files_are_relative_to_the_file(run_wherry: RunWherry, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "wherry.toml").write_text('constraint = "c.txt"\ncache-dir = "/abs/cache"\n')
    result = run_wherry("config", cwd=tmp_path / "sub", env={"WHERRY_CACHE_DIR": None})
    assert result.ok, result
    assert f'constraint = ["{tmp_path / "c.txt"}"]' in result.stdout
    assert 'cache-dir = "/abs/cache"' in result.stdout
