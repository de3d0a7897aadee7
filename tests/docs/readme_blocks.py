"""The parts of README.md its tests check: fenced blocks named by a comment, and tables between markers.

A block is introduced by ``<!-- kind: name -->`` on the line before its fence (``<!-- dataset.json: credit -->``);
a table sits between ``<!-- name:begin -->`` and ``<!-- name:end -->``.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"


def readme() -> str:
    return README.read_text()


def named_blocks(kind: str, text: str | None = None) -> dict[str, str]:
    """The fenced blocks that ``<!-- kind: name -->`` comments introduce, by name, in the README's order."""
    pattern = re.compile(r"^<!-- " + re.escape(kind) + r": ([\w-]+) -->\n```[\w.]*\n(.*?)^```", re.M | re.S)
    blocks: dict[str, str] = {}
    for name, body in pattern.findall(readme() if text is None else text):
        assert name not in blocks, f"README.md names two {kind} blocks {name!r}"
        blocks[name] = body
    return blocks


def marked(name: str, text: str | None = None) -> str:
    """The text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    found = re.search(
        r"<!-- " + re.escape(name) + r":begin[^>]*-->(.*?)<!-- " + re.escape(name) + r":end -->",
        readme() if text is None else text,
        re.S,
    )
    assert found, f"README.md has no {name}:begin / {name}:end markers"
    return found.group(1)


def table_rows(section: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``section``, each a list of its cells (``\\|`` read as ``|``)."""
    rows = []
    for line in section.splitlines():
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip("|"))]
        if all(set(cell) <= set("-: ") for cell in cells):
            continue
        rows.append(cells)
    return rows[1:]  # the first row is the header


def unquoted(cell: str) -> str:
    """A cell's text without the backticks around it."""
    return cell[1:-1] if len(cell) >= 2 and cell.startswith("`") and cell.endswith("`") else cell


def section(heading: str, text: str | None = None) -> str:
    """A ``## heading`` section, up to the next heading of the same level."""
    source = readme() if text is None else text
    found = re.search(r"^## " + re.escape(heading) + r"\n(.*?)(?=^## |\Z)", source, re.M | re.S)
    assert found, f"README.md has no '## {heading}' section"
    return found.group(1)
