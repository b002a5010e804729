"""The command replay (cli/replay.py): a repeated `pip list`/`freeze`/no-op `install` is
answered from its recorded run, and any change to what the answer depends on sends the
command down the normal path again.

To see whether a run was replayed, the tests tamper with the recorded answer: a replayed
run prints the tampered text, a normal run prints the truth (and records it again).
"""

from __future__ import annotations

import marshal
import os
import sys
import zlib
from pathlib import Path
from typing import Any

from tests.support import MakeIndex, RunWherry
from tests.support.environments import make_venv, site_packages
from tests.support.packages import Wheelhouse

TAMPERED = "TAMPERED ANSWER\n"


def _entries() -> list[Path]:
    bucket = Path(os.environ["WHERRY_CACHE_DIR"]) / "replay-v1"
    return sorted(bucket.glob("*.marshal")) if bucket.is_dir() else []


def _tamper(**changes: Any) -> None:
    """Rewrite every recorded answer (there is one per distinct invocation)."""
    entries = _entries()
    assert entries, "nothing was recorded"
    for path in entries:
        entry = marshal.loads(zlib.decompress(path.read_bytes()))
        entry.update(changes)
        path.write_bytes(zlib.compress(marshal.dumps(entry)))


def _clear() -> None:
    for path in _entries():
        path.unlink()


def test_list_is_replayed_until_what_it_read_changes(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("solo", "1.0"), wheelhouse.wheel("duo", "2.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url).ok
    listing = ("pip", "list", "--python", str(venv), "--format", "freeze")

    first = run_wherry(*listing)
    assert first.ok and first.stdout == "solo==1.0\n"
    _tamper(stdout=TAMPERED)
    assert run_wherry(*listing).stdout == TAMPERED  # replayed

    # A distribution added: the site directory changed.
    assert run_wherry("pip", "install", "duo", "--python", venv, "--index-url", index.url).ok
    assert run_wherry(*listing).stdout == "duo==2.0\nsolo==1.0\n"
    _tamper(stdout=TAMPERED)
    assert run_wherry(*listing).stdout == TAMPERED  # recorded again

    # A version edited in place (same directory entries, same sizes).
    metadata = site_packages(venv) / "solo-1.0.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace("Version: 1.0", "Version: 1.5"))
    assert run_wherry(*listing).stdout == "duo==2.0\nsolo==1.5\n"

    # Each of these changes what the answer may be: never replayed across them.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cfg = venv / "pyvenv.cfg"
    checks: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = [
        ("a config file appears",
         lambda: (cwd / "wherry.toml").write_text("offline = true\n"),
         {"cwd": cwd}, {"cwd": cwd}),
        ("an environment variable is set", lambda: None, {}, {"env": {"SOMETHING": "else"}}),
        ("the interpreter's pyvenv.cfg is edited",
         lambda: cfg.write_text(cfg.read_text() + "\n"), {}, {}),
    ]
    for what, change, before, after in checks:
        assert run_wherry(*listing, **before).ok
        _tamper(stdout=TAMPERED)
        change()
        again = run_wherry(*listing, **after)
        assert again.ok and again.stdout == "duo==2.0\nsolo==1.5\n", what


def test_verbose_runs_and_index_queries_are_never_replayed_or_recorded(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("solo", "1.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url).ok
    _clear()
    for extra in (["-v"], ["--no-cache"], ["--outdated", "--index-url", index.url]):
        assert run_wherry("pip", "list", "--python", venv, *extra).ok
        assert _entries() == [], extra
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert run_wherry("pip", "list", "--python", version).returncode in (0, 1)
    assert _entries() == []


def test_a_nearer_environment_is_noticed(run_wherry: RunWherry, make_index: MakeIndex,
                                         wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    """Without --python the environment is found by looking for `.venv` upwards: one
    appearing nearer than the recorded one is a different answer."""
    index = make_index([wheelhouse.wheel("solo", "1.0")])
    outer = make_venv(run_wherry, tmp_path / ".venv")
    assert run_wherry("pip", "install", "solo", "--python", outer, "--index-url", index.url).ok
    work = tmp_path / "work"
    work.mkdir()
    env = {"VIRTUAL_ENV": None, "CONDA_PREFIX": None}
    assert run_wherry("pip", "freeze", cwd=work, env=env).stdout == "solo==1.0\n"
    _tamper(stdout=TAMPERED)
    assert run_wherry("pip", "freeze", cwd=work, env=env).stdout == TAMPERED
    make_venv(run_wherry, work / ".venv")
    assert run_wherry("pip", "freeze", cwd=work, env=env).stdout == ""


def test_a_no_op_install_is_replayed_until_the_request_or_environment_changes(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    index = make_index([wheelhouse.wheel("solo", "1.0"), wheelhouse.wheel("duo", "2.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("solo\n")
    install = ("pip", "install", "-r", str(requirements), "--python", str(venv),
               "--index-url", index.url)
    assert "+ solo==1.0" in run_wherry(*install).stderr
    audited = run_wherry(*install)
    assert audited.ok and "Audited 1 package" in audited.stderr
    _tamper(count=99)
    assert "Audited 99 packages" in run_wherry(*install).stderr  # replayed

    requirements.write_text("solo\nduo\n")  # the request changed
    assert "+ duo==2.0" in run_wherry(*install).stderr
    assert "Audited 2 packages" in run_wherry(*install).stderr
    _tamper(count=99)
    assert run_wherry("pip", "uninstall", "duo", "--python", venv).ok
    again = run_wherry(*install)  # the environment changed
    assert "+ duo==2.0" in again.stderr and "Audited 99" not in again.stderr
    quiet = run_wherry(*install, "-q")
    assert quiet.ok and quiet.stderr == ""
    _tamper(count=99)
    assert run_wherry(*install, "-q").stderr == ""  # replayed quietly


def test_the_bucket_names_agree_and_prune_drops_answers_that_cannot_hold(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    from wherry.cache.layout import BUCKETS
    from wherry.cli import replay

    assert BUCKETS["replay"] == replay.BUCKET
    index = make_index([wheelhouse.wheel("solo", "1.0"), wheelhouse.wheel("duo", "2.0")])
    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "install", "solo", "--python", venv, "--index-url", index.url).ok
    assert run_wherry("pip", "freeze", "--python", venv).ok
    assert len(_entries()) == 1
    assert run_wherry("cache", "prune").ok
    assert len(_entries()) == 1  # still valid: kept
    assert run_wherry("pip", "install", "duo", "--python", venv, "--index-url", index.url).ok
    assert run_wherry("cache", "prune").ok
    assert _entries() == []  # the site directory changed: it can never answer again


def test_an_answer_depends_on_the_code_that_printed_it(
        run_wherry: RunWherry, make_index: MakeIndex, wheelhouse: Wheelhouse,
        tmp_path: Path) -> None:
    """An edited or upgraded wherry must not replay what older code printed."""
    import wherry.commands.inspect

    venv = make_venv(run_wherry, tmp_path / "venv")
    assert run_wherry("pip", "freeze", "--python", venv).ok
    (entry,) = _entries()
    stats = dict(marshal.loads(zlib.decompress(entry.read_bytes()))["stats"])
    source = wherry.commands.inspect.__file__
    assert source in stats and stats[source] is not None
    _tamper(stdout=TAMPERED, stats=[(path, stat) if path != source else (path, [0, 0, 0, 0, 0])
                                    for path, stat in stats.items()])
    assert run_wherry("pip", "freeze", "--python", venv).stdout == ""
