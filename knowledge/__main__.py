"""``python -m knowledge <command>``: see :mod:`knowledge.cli`."""

from knowledge.cli import main

raise SystemExit(main())
