"""The default index and its precedence (DESIGN.md section 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wherry.settings import IndexSettings, pip_default_index_url, resolve_index_settings


def settings(**kwargs: Any) -> IndexSettings:
    base: dict[str, Any] = {
        "cli_index_url": None, "cli_extra_index_urls": [], "cli_find_links": [],
        "cli_no_index": False,
    }
    base.update(kwargs)
    return resolve_index_settings(**base)


def test_pip_default_is_read_from_pip() -> None:
    from pip._internal.models.index import PyPI

    assert pip_default_index_url() == PyPI.simple_url
    result = settings()
    assert result.index_url == PyPI.simple_url
    assert result.index_url_source == "pip's default"


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(
        "[global]\nindex-url = https://pipconf.invalid/simple\n"
        "extra-index-url = https://pipconf-extra.invalid/simple\nfind-links = /wheels\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(pip_conf))
    result = settings()
    assert result.index_url == "https://pipconf.invalid/simple"
    # Extra indexes from pip's config keep pip's meaning: best match across all.
    assert result.strategy == "unsafe-best-match"
    assert result.index_urls == [
        "https://pipconf-extra.invalid/simple", "https://pipconf.invalid/simple"]
    assert result.find_links == ["/wheels"]
    monkeypatch.setenv("PIP_INDEX_URL", "https://pipenv.invalid/simple")
    assert settings().index_url == "https://pipenv.invalid/simple"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wherry]\nindex-url = "https://pyproject.invalid/simple"\n')
    assert settings().index_url == "https://pyproject.invalid/simple"
    monkeypatch.setenv("WHERRY_INDEX_URL", "https://wherryenv.invalid/simple")
    assert settings().index_url == "https://wherryenv.invalid/simple"
    from_file = settings(file_index_url="https://reqfile.invalid/simple")
    assert from_file.index_url == "https://reqfile.invalid/simple"
    from_cli = settings(cli_index_url="https://cli.invalid/simple",
                        file_index_url="https://reqfile.invalid/simple")
    assert from_cli.index_url == "https://cli.invalid/simple"
    own = settings(cli_extra_index_urls=["https://mine.invalid/simple"],
                   cli_index_strategy="first-index")
    assert own.strategy == "first-index"


def test_devnull_config_reads_no_pip_files(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test isolation sets PIP_CONFIG_FILE=/dev/null: pip's files are not read.
    result = settings()
    assert result.extra_index_urls == []
    assert result.strategy == "first-index"


def test_no_index(monkeypatch: pytest.MonkeyPatch) -> None:
    result = settings(cli_no_index=True, cli_find_links=["/w"])
    assert result.index_urls == [] and result.find_links == ["/w"]
