"""`python -m nanonlp` is the same as the `nanonlp` command."""

from nanonlp.cli import main

raise SystemExit(main())
