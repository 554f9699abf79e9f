"""The tree's floors hold: the import contracts of pyproject.toml ([tool.importlinter]), checked
by import-linter on the source as it is. Fails, naming the import, when a folder imports one
above it or modules import each other in a circle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_folder_imports_one_above_it_and_no_import_cycles():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout
