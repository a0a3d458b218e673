"""Who follows which named rule: computed from the adapters' declarations, their one home.

The reference computes each named rule and knows no framework; each adapter declares the rules its
framework follows, with the kind (convention, defect, platform limit) and the evidence. This module
reads the built-in adapters' declarations (class attributes: no framework is imported) and renders
the table of docs/semantics.md between its markers, so the document cannot drift from the code:

    python -m harness.declarations               # exit 1 when docs/semantics.md is not current
    python -m harness.declarations --update      # rewrite its table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "semantics.md"
START, END = "<!-- declarations:start -->", "<!-- declarations:end -->"


def builtin_declarations() -> list[tuple[str, object]]:
    """(adapter name, DocumentedConvention) for every built-in adapter, in declaration order."""
    from harness.adapters import BUILTIN, load_class

    out = []
    for name, ref in sorted(BUILTIN.items()):
        for d in load_class(ref).conventions:
            out.append((name, d))
    return out


def followers(declarations=None) -> dict[str, dict[str, str]]:
    """name -> {framework: kind}: who declares each rule, and as what."""
    out: dict = {}
    for fw, d in declarations if declarations is not None else builtin_declarations():
        out.setdefault(d.name, {})
        kinds = out[d.name].get(fw)
        out[d.name][fw] = d.kind if kinds in (None, d.kind) else f"{kinds} / {d.kind}"
    return out


def render_table(declarations=None) -> str:
    decls = declarations if declarations is not None else builtin_declarations()
    rows = ["| framework | name | kind | scope | evidence | upstream |", "|---|---|---|---|---|---|"]
    order = {"defect": 0, "platform-limit": 1, "convention": 2}
    for fw, d in sorted(decls, key=lambda x: (x[0], order.get(x[1].kind, 3), x[1].name)):
        scope = ", ".join([f"{k} in {list(v)}" for k, v in d.scope.items()]
                          + [f"{k} not in {list(v)}" for k, v in d.excludes.items()]) or "all"
        what = d.quote if d.kind == "convention" else d.contradicts
        what = what.replace("|", "\\|")
        evidence = f"[{'docs' if d.kind == 'convention' else 'source'}]({d.link}): {what}"
        upstream = f"[link]({d.upstream})" if d.upstream else "none found"
        rows.append(f"| {fw} | `{d.name}` | {d.kind} | {scope} | {evidence} | {upstream} |")
    return "\n".join(rows)


def rendered_doc(text: str, table: str) -> str:
    """`text` with the block between the markers replaced by `table`."""
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"{DOC}: the markers {START} ... {END} are missing")
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.declarations", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--update", action="store_true", help="rewrite the table in docs/semantics.md")
    args = ap.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    new = rendered_doc(text, render_table())
    if new == text:
        print(f"{DOC} is current")
        return 0
    if args.update:
        from harness.report import atomic_write

        atomic_write(DOC, new)
        print(f"wrote {DOC}")
        return 0
    print(f"{DOC} is not current: python -m harness.declarations --update", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
