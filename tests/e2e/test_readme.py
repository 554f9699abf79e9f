"""The README's example runs as written, against a real API."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(api_url):
    example = re.search(r"## Example.*?```python\n(.*?)```", README.read_text(), re.S).group(1)
    # The example talks to the dev stack on port 8000; here it talks to the test stack, and
    # the username must be new to it.
    example = example.replace("http://127.0.0.1:8000", api_url)
    example = example.replace('"username": "ada"', '"username": "ada_readme"')
    exec(compile(example, str(README), "exec"), {"print": lambda *args: None})


def test_readme_opens_with_the_run_and_test_commands():
    first_block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines() if line.strip()]
    assert commands == ["make run", "make test"]
    assert "make test" in (README.parent / ".ci" / "run").read_text()
