"""``python -m web``: serve the chat page (see :mod:`web.server`)."""

import sys

from web.server import main

if __name__ == "__main__":
    sys.exit(main())
