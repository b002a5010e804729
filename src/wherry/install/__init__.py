"""Installing: installed distributions, wheel unpack, link modes, PEP 427, transactions."""
