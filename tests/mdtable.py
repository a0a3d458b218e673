"""Reading report.md's tables in tests: the cells of each row, stripped (tabulate pads them)."""

from __future__ import annotations


def rows(text: str) -> list[list[str]]:
    """The data rows of every markdown table in `text`, as lists of stripped cells (header and
    rule rows left out)."""
    out, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if set(line.replace("|", "").strip()) <= set("-: "):
            continue  # the rule under a header
        if set(nxt.replace("|", "").strip()) <= set("-: ") and nxt.startswith("|"):
            continue  # a header: the rule follows
        out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def section(md: str, title: str) -> str:
    """The text of the `## title` section of a report ('' when it has none)."""
    head = f"## {title}\n"
    if head not in md:
        return ""
    return md.split(head, 1)[1].split("\n## ", 1)[0]
