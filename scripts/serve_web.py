#!/usr/bin/env python3
"""Serve the chat page: a command-line entry point of :mod:`web.server` (also ``python -m web``).

Usage: python scripts/serve_web.py [--host 127.0.0.1] [--port 8080] [--rasa-url http://localhost:5005] [--quiet]
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from web.server import main

    sys.exit(main())
