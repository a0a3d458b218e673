"""Case files, expectations, baselines and results are data only, and reports are written safely.

- A static scan (ast) of harness/ and reference/: no eval/exec, no pickle/marshal/shelve, no
  unsafe YAML loading, no np.load that may unpickle, no shell; every file write goes through the
  atomic writers. The scanner is itself tested on bad snippets, so it can fail.
- YAML python tags and pickled "results" fail cleanly and execute nothing.
- A third-party adapter module is imported only when it is named (or run by default), and a broken
  one cannot take the command line down.
- Every write under the output folder goes through `harness.report.atomic_write` (text or bytes;
  the gate's baseline too): a crash in the middle of a write leaves the previous file intact and
  no temporary file behind.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import pickle
import sys
import textwrap
from pathlib import Path

import pytest

import harness.adapters as adapters_mod
from harness import orchestrate, report
from harness.cases import CaseFileError, load_case_file
from harness.cli import main
from harness.expectations import load_expectations

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("harness", "reference") for p in (ROOT / d).rglob("*.py"))

SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader", "_Loader"}
UNSAFE_YAML = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all", "Loader",
               "UnsafeLoader", "FullLoader", "CLoader", "CUnsafeLoader", "CFullLoader"}
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle",
                  "joblib"}
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
# where a file may be written: the atomic writers, and the checkpoint (an append-only log in the
# output folder, by design: each batch is appended and fsynced; see harness/orchestrate.py)
WRITERS = {("harness/report.py", "atomic_write"),
           ("harness/orchestrate.py", "Checkpoint.__init__"),
           ("harness/orchestrate.py", "Checkpoint.add"),
           ("harness/worker.py", "_serve"),  # the protocol pipe (a dup of fd 1), not a file
           ("harness/worker.py", "_prefer_to_be_oom_killed"),  # /proc/self/oom_score_adj
           # scratch files through which large arrays travel, in the run's private directory
           ("harness/ipc.py", "spill_array"),
           # the adapter contract's reproducer scripts, in its own temporary directory
           ("harness/testing.py", "reproducer_mismatches"),
           ("harness/testing.py", "demo_cases")}
def _dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func) + "()"
    return "?"


def _kw(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def scan(source: str, rel: str) -> list[tuple[str, str, int, str]]:
    """(rel, enclosing function, line, problem) for every unsafe construct in `source`."""
    tree = ast.parse(source)
    problems = []
    scope: list[str] = []
    buffers: list[set] = [set()]

    def add(node, what):
        problems.append((rel, ".".join(scope) or "<module>", node.lineno, what))

    def visit(node):
        named = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        if named:
            scope.append(node.name)
            buffers.append(set())
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _dotted(
                node.value.func).split(".")[-1] in ("BytesIO", "StringIO"):
            buffers[-1].update(t.id for t in node.targets if isinstance(t, ast.Name))
        if isinstance(node, ast.ClassDef):
            for b in node.bases:
                if _dotted(b).split(".")[-1] in UNSAFE_YAML:
                    add(node, f"class derives from {_dotted(b)}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                node.module or ""]
            for n in names:
                if n.split(".")[0] in BANNED_MODULES:
                    add(node, f"imports {n}")
            if isinstance(node, ast.ImportFrom) and (node.module or "") == "yaml":
                for a in node.names:
                    if a.name in UNSAFE_YAML or a.name in ("load", "load_all"):
                        add(node, f"imports yaml.{a.name}")
        if isinstance(node, ast.Attribute):
            d = _dotted(node)
            if d.startswith("yaml.") and node.attr in UNSAFE_YAML:
                add(node, f"uses {d}")
            if d.split(".")[0] in BANNED_MODULES:
                add(node, f"uses {d}")
        if isinstance(node, ast.Call):
            f = _dotted(node.func)
            short = f.split(".")[-1]
            if f in ("eval", "exec", "__import__", "builtins.eval", "builtins.exec"):
                add(node, f"calls {f}")
            if f in ("yaml.load", "yaml.load_all"):
                loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
                if loader is None or _dotted(loader).split(".")[-1] not in SAFE_LOADERS:
                    add(node, f"calls {f} without a safe Loader")
            if f in ("np.load", "numpy.load"):
                ap = _kw(node, "allow_pickle")
                if not (isinstance(ap, ast.Constant) and ap.value is False):
                    add(node, f"calls {f} without allow_pickle=False")
            if f.startswith("subprocess.") and short in SUBPROCESS_CALLS:
                shell = _kw(node, "shell")
                if shell is not None and not (isinstance(shell, ast.Constant) and not shell.value):
                    add(node, f"calls {f} with shell=")
            if f in ("subprocess.getoutput", "subprocess.getstatusoutput", "os.system",
                     "os.popen") or f.startswith("os.exec") or f.startswith("os.spawn"):
                add(node, f"calls {f} (a shell or a new program)")
            if f in ("importlib.import_module",) and rel != "harness/adapters/__init__.py":
                add(node, f"calls {f} outside the adapter registry")
            # writes (to memory buffers made in the same function: not files)
            first = node.args[0] if node.args else None
            to_memory = isinstance(first, ast.Name) and first.id in buffers[-1]
            if short in ("write_text", "write_bytes", "savefig", "tofile", "savez") or (
                    short in ("replace", "rename") and f.startswith(("os.", "shutil."))) or (
                    short in ("dump", "save") and f.startswith(("json.", "yaml.", "np.",
                                                                "numpy.", "pickle."))):
                if not to_memory:
                    add(node, f"writes a file with {f}")
            if f in ("open", "io.open", "os.fdopen") or (short == "open" and f != "os.open"):
                # open(path, mode) and os.fdopen(fd, mode); Path(...).open(mode)
                positional = 1 if f in ("open", "io.open", "os.fdopen") else 0
                mode = node.args[positional] if len(node.args) > positional else _kw(node, "mode")
                if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
                    if any(c in mode.value for c in "wax+"):
                        add(node, f"writes a file with {f}(..., {mode.value!r})")
                elif mode is not None:
                    add(node, f"opens a file with {f} and a computed mode")
            if f in ("tempfile.mkstemp", "tempfile.NamedTemporaryFile") and _kw(node, "dir"):
                add(node, f"writes a file with {f}(dir=...)")
        for child in ast.iter_child_nodes(node):
            visit(child)
        if named:
            scope.pop()
            buffers.pop()

    visit(tree)
    return problems


def _all_problems():
    out = []
    for p in SOURCES:
        rel = p.relative_to(ROOT).as_posix()
        out += scan(p.read_text(encoding="utf-8"), rel)
    return out


def _allowed(problem) -> bool:
    rel, func, _, what = problem
    if what.startswith(("writes a file", "opens a file")):
        return (rel, func) in WRITERS
    return False


def test_sources_are_scanned():
    rels = {p.relative_to(ROOT).as_posix() for p in SOURCES}
    assert {"harness/cases.py", "harness/report.py", "harness/gate.py", "harness/worker.py",
            "reference/cross_entropy.py", "harness/adapters/torch_adapter.py"} <= rels


def test_no_code_execution_unpickling_unsafe_yaml_or_shell_in_harness_and_reference():
    bad = [p for p in _all_problems() if not _allowed(p)
           and not p[3].startswith(("writes a file", "opens a file"))]  # writes: next tests
    assert bad == [], "\n".join(f"{r}:{line} in {fn}: {what}" for r, fn, line, what in bad)


def test_no_adapter_executes_generated_source():
    """Adapters call their frameworks in plain Python and render the reproducer from that source
    (harness.adapters.base), so nothing in the harness calls exec, and the scan would see one."""
    found = [(r, fn) for r, fn, _, what in _all_problems() if what.startswith("calls exec")]
    assert found == []
    planted = scan("def run(src):\n    exec(compile(src, 'x', 'exec'), {})\n", "harness/x.py")
    assert [what for _, _, _, what in planted if what.startswith("calls exec")], planted


def test_every_file_write_is_one_of_the_atomic_writers():
    found = {(r, fn) for r, fn, _, what in _all_problems()
             if what.startswith(("writes a file", "opens a file"))}
    assert found <= WRITERS, sorted(found - WRITERS)
    assert ("harness/report.py", "atomic_write") in found


@pytest.mark.parametrize("snippet, what", [
    ("eval('1')", "calls eval"),
    ("exec('x = 1')", "calls exec"),
    ("import pickle\npickle.loads(b'')", "imports pickle"),
    ("from marshal import loads", "imports marshal"),
    ("import yaml\nyaml.load(s)", "calls yaml.load without a safe Loader"),
    ("import yaml\nyaml.load(s, Loader=yaml.Loader)", "uses yaml.Loader"),
    ("import yaml\nyaml.load(s, yaml.FullLoader)", "uses yaml.FullLoader"),
    ("import yaml\nyaml.unsafe_load(s)", "uses yaml.unsafe_load"),
    ("import yaml\nyaml.full_load(s)", "uses yaml.full_load"),
    ("from yaml import unsafe_load", "imports yaml.unsafe_load"),
    ("import yaml\nclass L(yaml.UnsafeLoader): pass", "class derives from yaml.UnsafeLoader"),
    ("import numpy as np\nnp.load(p)", "calls np.load without allow_pickle=False"),
    ("import numpy as np\nnp.load(p, allow_pickle=True)", "calls np.load without"),
    ("import subprocess\nsubprocess.run(c, shell=True)", "calls subprocess.run with shell="),
    ("import subprocess\nsubprocess.Popen(c, shell=flag)", "calls subprocess.Popen with shell="),
    ("import os\nos.system('ls')", "calls os.system"),
    ("open(p, 'w').write('x')", "writes a file with open(..., 'w')"),
    ("from pathlib import Path\nPath(p).write_text('x')", "writes a file with Path().write_text"),
    ("fig.savefig(p)", "writes a file with fig.savefig"),
    ("import os\nos.replace(a, b)", "writes a file with os.replace"),
    ("from pathlib import Path\nPath(p).open('a')", "writes a file with Path().open(..., 'a')"),
    ("import os\nos.fdopen(fd, 'wb')", "writes a file with os.fdopen(..., 'wb')"),
    ("import json\njson.dump(d, f)", "writes a file with json.dump"),
])
def test_the_scanner_catches_each_construct(snippet, what):
    problems = scan(snippet, "harness/x.py")
    assert any(p[3].startswith(what) for p in problems), problems


@pytest.mark.parametrize("snippet", [
    "import yaml\nyaml.load(s, Loader=yaml.SafeLoader)", "import yaml\nyaml.safe_load(s)",
    "import numpy as np\nnp.load(p, allow_pickle=False)", "'a'.replace('a', 'b')",
    "import subprocess\nsubprocess.run(['ls'])", "open(p).read()", "open(p, 'rb').read()",
    "import json\njson.loads(s)",
    "import io\ndef f(fig):\n    b = io.BytesIO()\n    fig.savefig(b, format='png')"])
def test_the_scanner_leaves_safe_code_alone(snippet):
    assert scan(snippet, "harness/x.py") == []


# -- data only ------------------------------------------------------------------------------------
PAYLOADS = ["!!python/object/apply:os.mkdir [{m!r}]", "!!python/object/new:os.mkdir [{m!r}]",
            "!!python/name:os.mkdir", "!!python/module:os",
            "!!python/object/apply:subprocess.check_call [[touch, {m!r}]]"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_yaml_python_tags_fail_cleanly_and_execute_nothing(tmp_path, payload):
    marker = tmp_path / "pwned"
    tag = payload.format(m=str(marker))
    for text, loader in [(f"blocks: {tag}\n", load_case_file),
                         (f"defaults: {{shape: [2, 3], dtype: {tag}}}\n"
                          "blocks: [{cases: [{}]}]\n", load_case_file),
                         (f"- case: {tag}\n  framework: torch\n", load_expectations),
                         (f"- {tag}\n", load_expectations)]:
        p = tmp_path / "f.yaml"
        p.write_text(text)
        with pytest.raises(CaseFileError, match=rf"^{p}:\d+: "):
            loader(p)
        assert not marker.exists()


class _Pwn:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_results_and_baselines_are_refused_not_unpickled(tmp_path, capsys):
    marker = tmp_path / "pwned"
    blob = tmp_path / "results.json"
    blob.write_bytes(pickle.dumps(_Pwn(str(marker))))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"format": "xent-parity-results/1"}))
    assert main(["gate", "--baseline", str(blob), "--results", str(good)]) == 2
    assert main(["gate", "--baseline", str(good), "--results", str(blob)]) == 2
    assert main(["merge", str(blob), "--out", str(tmp_path / "m")]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(blob) in err


# -- adapters are imported only when named ---------------------------------------------------------
@pytest.fixture
def evil_entry_point(tmp_path, monkeypatch):
    """An installed entry point whose module records that it was imported, then raises."""
    name = f"xp_evil_adapter_{os.getpid()}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""\
        open({str(marker)!r}, "a").write("imported\\n")
        raise RuntimeError("this third-party adapter module is broken")
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = importlib.metadata.EntryPoint(name="evil", value=f"{name}:EvilAdapter",
                                       group=adapters_mod.ENTRY_POINT_GROUP)
    real = importlib.metadata.entry_points

    def entry_points(**kw):
        if kw.get("group") == adapters_mod.ENTRY_POINT_GROUP:
            return importlib.metadata.EntryPoints([ep])
        return real(**kw)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    yield name, marker
    sys.modules.pop(name, None)


def test_listing_adapters_does_not_import_entry_point_modules(evil_entry_point):
    name, marker = evil_entry_point
    from harness.runner import adapter_specs

    known = adapters_mod.known_adapters()
    assert known["evil"] == f"{name}:EvilAdapter"
    assert adapters_mod.resolve("evil") == ("evil", f"{name}:EvilAdapter")
    assert [s.name for s in adapter_specs(["numpy", "evil"])] == ["numpy", "evil"]
    assert name not in sys.modules and not marker.exists()


def test_naming_a_broken_adapter_imports_it_and_fails_cleanly(evil_entry_point, capsys,
                                                              tmp_path):
    name, marker = evil_entry_point
    with pytest.raises(ValueError, match=r"cannot load adapter .*RuntimeError: this third-party"):
        adapters_mod.load_class(f"{name}:EvilAdapter")
    assert marker.exists()
    # `list` names it: a line saying why, not a traceback, and exits 1 as `run` does
    assert main(["list", "--frameworks", "evil"]) == 1
    assert "evil: cannot load adapter" in capsys.readouterr().out
    # the default framework set (every installed adapter) skips it
    from harness.cli import _default_frameworks

    assert "evil" not in _default_frameworks() and "numpy" in _default_frameworks()
    # a run that names it runs the others, reports it as not run and exits 1, naming it
    grid = tmp_path / "g.yaml"
    grid.write_text("blocks:\n  - cases: [{shape: [2, 3]}]\n")
    capsys.readouterr()
    code = main(["run", str(grid), "--frameworks", "numpy,evil", "--out", str(tmp_path / "o"),
                 "--expectations", ""])
    assert code == 1
    assert "adapter evil could not start: cannot load adapter" in capsys.readouterr().err
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    assert "cannot load adapter" in doc["environment"]["frameworks"]["evil"]["unavailable"]
    assert {r["framework"] for r in doc["results"]} == {"numpy"}


# -- atomic writes ---------------------------------------------------------------------------------
def _fail_replace(monkeypatch, exc=OSError, when=lambda dst: True):
    real = os.replace

    def replace(src, dst, *a, **k):
        if when(Path(dst)):
            raise exc("simulated crash in the middle of a write")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("writer", ["text", "bytes"])
@pytest.mark.parametrize("exc", [OSError, KeyboardInterrupt])
def test_a_crash_mid_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch,
                                                                           writer, exc):
    target = tmp_path / "reports" / "results.json"
    write = (lambda p, s: report.atomic_write(p, s)) if writer == "text" else (
        lambda p, s: report.atomic_write(p, s.encode()))
    write(target, "previous\n")
    os.chmod(target, 0o640)
    _fail_replace(monkeypatch, exc)
    with pytest.raises(exc):
        write(target, "new and half written\n")
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]
    monkeypatch.undo()
    write(target, "new\n")
    assert target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)  # the replaced file's permissions
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]


def test_a_crash_while_writing_the_temporary_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    report.atomic_write(target, "previous")

    def fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(KeyboardInterrupt):
        report.atomic_write(target, "x" * 100000)
    assert target.read_text() == "previous" and [p.name for p in tmp_path.iterdir()] == [
        "report.md"]


@pytest.mark.parametrize("data", ["{}", b"{}"])
def test_new_report_files_are_readable_by_others(tmp_path, data):
    """mkstemp creates 0600 files; a new report must not stay private to the writer."""
    target = tmp_path / "new.json"
    report.atomic_write(target, data)
    assert target.stat().st_mode & 0o044 == 0o044, oct(target.stat().st_mode)


GRID = "defaults: {shape: [4, 3]}\nblocks:\n  - grid: {dtype: [float32, float64], " \
       "reduction: [none, mean]}\n"


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file()}


def test_every_file_of_a_run_is_written_by_an_atomic_writer(tmp_path, monkeypatch):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    written = []
    real = os.replace

    def replace(src, dst, *a, **k):
        written.append((Path(dst).resolve(), sys._getframe(1).f_code.co_name))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    # the figures are drawn here, not in the forked child, so that their writes are seen
    monkeypatch.setattr(orchestrate._FiguresProcess, "FORK", False)
    assert main(["run", str(grid), "--frameworks", "numpy", "--out", str(out),
                 "--expectations", ""]) == 0
    files = [p.resolve() for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"results.json", "report.md"}
    # the one exception: the output folder's lock, held open by the run and rewritten in place
    # (it holds no result, only which run holds the folder)
    lock = (out / ".lock").resolve()
    assert lock in files and lock.read_text().startswith("pid ")
    files.remove(lock)
    by = dict(written)
    for p in files:
        assert p in by, f"{p} was written without an atomic replace"
        assert by[p] == "atomic_write", (p, by[p])


@pytest.mark.parametrize("failing", ["results.json", "report.md", ".png"])
def test_a_run_that_crashes_while_writing_keeps_the_previous_reports(tmp_path, monkeypatch,
                                                                     failing, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    args = ["run", str(grid), "--frameworks", "numpy", "--out", str(out), "--expectations", ""]
    assert main(args) == 0
    before = _outputs(out)
    assert any(n.endswith(failing) for n in before), sorted(before)  # the write to break exists
    _fail_replace(monkeypatch, when=lambda dst: dst.name.endswith(failing))
    if failing == ".png":  # a figure is never worth the report: skipped, the rest written
        assert main(args) == 0
    else:  # the failed write is reported as an error (exit 2), never a half-written file
        assert main(args) == 2
        assert "simulated crash" in capsys.readouterr().err
    after = _outputs(out)
    leftovers = [k for k in after if Path(k).name.startswith(".tmp")]
    assert leftovers == [], leftovers
    for name, data in before.items():
        if name.endswith(failing):
            assert after[name] == data, f"{name} was damaged"
        assert name in after
    json.loads(after["results.json"])
