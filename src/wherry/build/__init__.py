"""PEP 517/518/660 builds: isolated build environments, the hook calls, built-wheel cache.

This package never imports `resolve` or `install`: the one thing it needs from them,
"install these requirements into this environment", arrives as an `Installer` object
(env.py) made by `commands/build_env.py` (DESIGN.md section 2).
"""
