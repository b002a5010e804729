"""Target platforms: compatible tags, PEP 600 manylinux, PEP 656 musllinux."""
