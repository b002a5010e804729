"""`python -m wherry` runs the command line."""

from wherry.cli.main import main

raise SystemExit(main())
