"""Finding an unpacked wheel in the archive cache (install/unpack.py makes the entries).

Apart from the unpacker so that installing from the cache (commands/recorded_install.py,
the stored resolution) does not import `zipfile` (~17 ms here) to find its archives.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # not `from typing import ...`: importing typing costs ~3 ms

if TYPE_CHECKING:
    from wherry.cache.layout import Cache

# The file whose presence says an archive entry is complete.
MARKER = ".wherry-complete"


def archive_path(cache: Cache, sha256: str) -> Path | None:
    """The complete archive entry for a wheel with this sha256, or None.

    Callers look an entry up to install from it, so a hit is a use: the marker's times
    are set to now (one `utime`, which also tells whether it exists), and `cache-max-size`
    pruning, least recently used first (commands/cache.py), sees the entry as in use. A
    read-only cache is still read.
    """
    path = cache.bucket("archives") / sha256.lower()
    marker = path / MARKER
    try:
        os.utime(marker)
    except FileNotFoundError:
        return None
    except OSError:
        return path if marker.is_file() else None
    return path
