"""Provider tests import their fakes as ``tests.fakes.*``: make the repository root importable.

``.venv/bin/pytest`` puts only the test folders on ``sys.path`` (no ``__init__.py`` above
them), so without this ``tests`` itself would not be a package pytest can find.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
