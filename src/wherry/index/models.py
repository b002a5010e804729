"""What an index says about a project: its files, as data shared by index/, resolve/, install/."""

from __future__ import annotations

import msgspec


class DistFile(msgspec.Struct, frozen=True):
    """One file of a project as listed by an index page or a find-links location.

    `hashes` maps algorithm to hex digest (`{"sha256": "..."}`), possibly empty.
    `core_metadata` is False when the index serves no PEP 658 `.metadata` file, True when
    it does without a hash, or a dict of hashes for it. `yanked` is False or the reason
    (possibly the empty string, PEP 592). `index_url` names the index or find-links
    location the file came from, for messages and cache keys.
    """

    filename: str
    url: str
    index_url: str
    hashes: dict[str, str] = msgspec.field(default_factory=dict)
    requires_python: str | None = None
    yanked: bool | str = False
    core_metadata: bool | dict[str, str] = False
    size: int | None = None
    upload_time: str | None = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_yanked(self) -> bool:
        return self.yanked is not False
