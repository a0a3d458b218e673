"""The boundaries of the house, enforced:

- `reference/` imports nothing of `harness/` (it is the definition, usable on its own);
- adapters never import `reference/` (a framework's numbers never see the expected ones);
- the core (`harness/` without the adapter modules, and `reference/`) imports no framework, and
  names none in its code or strings: everything about a framework (its module, environment and
  dispatch variables, install extra, dtypes, declarations, memory factors) lives in its adapter
  file, so adding a framework is one adapter file. Comments and docstrings may explain.

Framework names come from the registered adapters themselves (their API, modules and
variables), so a new adapter extends the check by being added.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from harness.adapters import builtin_classes

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
ADAPTER_DIR = ROOT / "harness" / "adapters"
ADAPTER_FILES = sorted(p for p in ADAPTER_DIR.glob("*_adapter.py"))
CORE = sorted([p for p in (ROOT / "harness").rglob("*.py") if p not in ADAPTER_FILES]
              + list((ROOT / "reference").rglob("*.py")))
# Names of results that are part of the project's vocabulary (docs/semantics.md) and would change
# every stored result if renamed; each is a framework's own convention, named after it.
ALLOWED = {("reference/conventions.py", "smoothing-weighted-torch")}


def _frameworks() -> set[str]:
    names = set()
    for cls in builtin_classes():
        if cls.module == "numpy":
            continue  # the core's own array library
        names |= {cls.module, *cls.requires, cls.extra, *cls.name.split(".")}
        names |= set(cls.environment) | set(cls.dispatch_variables)
    names |= {"tf", "xla", "XLA"}
    return {n for n in names if n} - {"nn", "safe"}


FRAMEWORKS = _frameworks()
WORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, FRAMEWORKS), key=len, reverse=True))
                  + r")\b")


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_lists_are_not_empty():
    assert len(ADAPTER_FILES) >= 7 and len(CORE) >= 20
    assert {"torch", "paddle", "tensorflow", "keras", "jax", "optax", "onnxruntime",
            "XLA_FLAGS", "TF_ENABLE_ONEDNN_OPTS", "GLOG_minloglevel"} <= FRAMEWORKS


def test_reference_imports_nothing_of_the_harness():
    bad = {(_rel(p), m) for p in (ROOT / "reference").rglob("*.py") for m in _imports(p)
           if m == "harness" or m.startswith("harness.")}
    assert bad == set()


def test_adapters_never_import_the_reference():
    bad = {(_rel(p), m) for p in ADAPTER_DIR.glob("*.py") for m in _imports(p)
           if m == "reference" or m.startswith("reference.")}
    assert bad == set()


def test_the_core_imports_no_framework():
    bad = {(_rel(p), m) for p in CORE for m in _imports(p) if m.split(".")[0] in FRAMEWORKS}
    assert bad == set()


def framework_names(source: str, rel: str) -> list[tuple[int, str]]:
    """(line, token) for each framework name in `source`'s code and strings; comments and
    docstrings (a string standing alone as a statement) are skipped."""
    out, prev = [], None
    kinds = {tokenize.NAME, tokenize.STRING} | (
        {tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())
    alone = (None, tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE, tokenize.NL,
             tokenize.ENCODING)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL):
            continue
        docstring = tok.type == tokenize.STRING and (prev is None or prev.type in alone)
        if tok.type in kinds and not docstring:
            for m in WORD.finditer(tok.string):
                if not any(rel == r and allowed in tok.string for r, allowed in ALLOWED):
                    out.append((tok.start[0], m.group(0)))
        prev = tok
    return out


def test_the_core_names_no_framework():
    bad = [f"{_rel(p)}:{line}: {name}" for p in CORE
           for line, name in framework_names(p.read_text(encoding="utf-8"), _rel(p))]
    assert bad == [], "\n".join(bad)


def test_the_name_check_sees_a_planted_name():
    planted = 'ENV = {"XLA_FLAGS": "1"}\nimport torch\nx = "run paddle"\n'
    assert [n for _, n in framework_names(planted, "harness/x.py")] == ["XLA_FLAGS", "torch",
                                                                         "paddle"]
    assert framework_names('"""about torch"""\n# tensorflow\n', "harness/x.py") == []
