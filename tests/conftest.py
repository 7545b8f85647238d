"""Shared test set-up: ``tests/`` on ``sys.path`` so every test imports the one ``support`` package.

pytest's default import mode already prepends a test's directory; doing it here as well keeps
``from support.server import ServerProcess`` working under ``--import-mode=importlib`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
