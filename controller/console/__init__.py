"""The operator console: static files (HTML, ES modules, CSS, a sound) the API serves at
``/console/``.

No build step and nothing fetched at run time: what is in ``static/`` is what the browser gets,
so a controller on an isolated command-center network serves the whole console itself.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
