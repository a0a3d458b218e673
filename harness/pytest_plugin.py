"""pytest collection of case files: one item per (case, framework, forward|grad).

Registered with pytest by the package's `pytest11` entry point, so it works from any directory
once xent-parity is installed: `pytest my_cases.yaml` collects every case of the file for every
installed framework (`--frameworks` to choose). A YAML file is a case file when its top-level
mapping has the marker key `xent-parity: 1`, wherever it lies; one that also says
`collect: when-named` (the 10x and large-vocabulary grids, which need minutes and many GiB) is
collected only when named on the command line.

Items of one framework run through one long-lived worker in batches: the first item of a framework
evaluates all of that framework's collected items of the file, the others read their verdict.
Failures render the engine's result and the command that reproduces them, with the case file's
path right from the folder pytest was started in. A result that follows a convention its adapter
declares (documented by the framework) passes, with the convention as a JUnit property; one
explained by a declared defect is an xfail naming the upstream issue; one whose declaration the
framework follows only sometimes is `inconsistent` and fails (harness.consistency). What no
declaration explains is reviewed in cases/expectations.yaml: each entry turns what it selects into
a strict xfail. `-ra` lists the xfails of case files grouped by reason (count and an example),
not one line each; `--parity-xfail-lines` gives pytest's own line per xfail back.

Item ids are `FILE::CASE[FRAMEWORK-CHECK]` and round-trip through pytest's cache, so `--lf` and
`--ff` rerun exactly the failed items.

Under pytest-xdist (`pytest -n auto cases/`) every item carries `xdist_group(framework)` and the
distribution defaults to `loadgroup`: each framework's items go to one xdist worker, so each
framework is imported and started once and its cases are evaluated once, while the frameworks run
side by side. (With `--dist load`, chosen explicitly, every xdist worker that receives an item of a
framework would evaluate all of that framework's cases again.)
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from pathlib import Path

import pytest

from harness.cases import COLLECT, MARKER, CaseFileError, load_case_file
from harness.expectations import load_expectations, match
from harness.verdicts import DIVERGENT, KNOWN_DEFECT, PASS, UNSUPPORTED

EXPECTATIONS = Path(__file__).resolve().parent.parent / "cases" / "expectations.yaml"


def _positive_seconds(s: str) -> float:
    from harness.cli import _positive_seconds as check

    return check(s)


def pytest_addoption(parser):
    g = parser.getgroup("xent-parity")
    g.addoption("--frameworks", default=None,
                help="comma-separated adapters for case files (default: every known adapter; "
                     "those not installed are skipped with the reason)")
    g.addoption("--parity-timeout", type=_positive_seconds, default=120.0,
                help="seconds per case per worker (> 0)")
    g.addoption("--expectations", default=None,
                help="reviewed known divergences (default: expectations.yaml beside the first case "
                     "file collected, else the repository's cases/expectations.yaml)")
    g.addoption("--parity-xfail-lines", action="store_true",
                help="with -ra/-rx, one line per xfail of a case file (default: grouped by reason)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """`-n N` without `--dist`: group by framework (see the module docstring)."""
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", None) == "no":
        config.option.dist = "loadgroup"


def pytest_configure(config):
    config._xent = _ParitySession(config)


def pytest_unconfigure(config):
    s = getattr(config, "_xent", None)
    if s:
        s.close()


# the case-file marker and `collect: when-named`, as harness.cases defines them; looked for in
# the file's first 64 KiB (top-level keys), as bytes, never parsed here: a YAML file of another
# tool is left alone
_MARKER = re.compile(rb"^" + re.escape(MARKER.encode()) + rb"[ \t]*:", re.M)
_WHEN_NAMED = re.compile(rb"^collect[ \t]*:[ \t]*[\"']?" + re.escape(COLLECT[1].encode()), re.M)
_BLOCKS = re.compile(rb"^blocks[ \t]*:", re.M)
_HEAD = 1 << 16


def _head(path: Path) -> bytes | None:
    """The first bytes of a YAML file, None for any other file or one that cannot be read."""
    if path.suffix not in (".yaml", ".yml"):
        return None
    try:
        with open(path, "rb") as f:
            return f.read(_HEAD)
    except OSError:
        return None


def case_file_kind(path: Path, head: bytes | None = None) -> str | None:
    """'always' or 'when-named' for a YAML file that carries the case-file marker, None for any
    other file."""
    head = _head(path) if head is None else head
    if not head or not _MARKER.search(head):
        return None
    return "when-named" if _WHEN_NAMED.search(head) else "always"


def pytest_collect_file(file_path: Path, parent):
    """A case file (`case_file_kind`); a `when-named` one, or a YAML file with top-level
    `blocks:` but no marker, only when named on the command line."""
    head = _head(file_path)
    if head is None:
        return None
    kind = case_file_kind(file_path, head)
    if kind != "always":
        named = any(Path(str(a).split("::")[0]).resolve() == file_path.resolve()
                    for a in parent.config.args)
        if not named or (kind is None and not _BLOCKS.search(head)):
            return None
    return CaseFile.from_parent(parent, path=file_path)


class _ParitySession:
    def __init__(self, config):
        self.config = config
        self.engines = {}
        self.verdicts = {}
        self.judged = {}  # id(verdict) -> (verdict, detail) as judged, before consistency
        self.expectations = None
        self._specs = None
        self.collected = []  # (case, framework, check) of the items that run (after -k)
        self.deselected = 0
        self.case_files = set()  # the case files collected
        self.expectations_path = None

    def specs(self):
        from harness.adapters import known_adapters
        from harness.runner import adapter_specs

        if self._specs is None:
            opt = self.config.getoption("frameworks")
            names = [n.strip() for n in opt.split(",") if n.strip()] if opt else sorted(known_adapters())
            try:
                self._specs = adapter_specs(names)
            except ValueError as e:  # an unknown name, a module:Class that cannot load
                raise pytest.UsageError(f"--frameworks: {e}") from None
        return self._specs

    def declaration(self, framework, names) -> str:
        """The upstream link (or the evidence link) of the declared defects among `names`."""
        eng = self.engines.get(framework)
        info = (eng.adapters[0].info or {}) if eng else {}
        links = [d.get("upstream") or d.get("link", "") for d in info.get("conventions", [])
                 if d["name"] in (names or "").split("+") and d.get("kind") == "defect"]
        return ", ".join(links) or "declared by the adapter"

    def get_expectations(self, case_file: Path | None = None):
        """The reviewed expectations: --expectations, else the file beside `case_file` (the first
        collected), else the repository's."""
        if self.expectations is None:
            path = self.config.getoption("expectations")
            if path is None:
                from harness.cli import default_expectations

                path = default_expectations([str(case_file)] if case_file else []) or str(
                    EXPECTATIONS)
            self.expectations_path = path
            try:
                self.expectations = load_expectations(path)
            except CaseFileError as e:  # a missing or broken file: the run cannot be judged
                raise pytest.UsageError(f"--expectations: {e}") from None
        return self.expectations

    def evaluate(self, items, framework):
        """Run every collected item of `framework` (not yet evaluated) through its worker."""
        from harness.runner import Engine

        spec = next(s for s in self.specs() if s.name == framework)
        eng = self.engines.get(framework)
        if eng is None:
            eng = Engine([spec], timeout=self.config.getoption("parity_timeout"))
            eng.start()
            self.engines[framework] = eng
        st = eng.adapters[0]
        if st.unavailable:
            return st.unavailable
        cases, seen = [], set()
        for it in items:
            if isinstance(it, ParityItem) and it.framework == framework and it.case.id not in seen \
                    and (it.case.id, framework, it.check) not in self.verdicts:
                seen.add(it.case.id)
                cases.append(it.case)
        for v in eng.run(cases):
            self.verdicts[(v.case_id, v.framework, v.check)] = v
        self._check_consistency(framework)
        return None

    def _check_consistency(self, framework):
        """Mark the results of `framework` that follow a declared name it does not follow
        elsewhere (harness.consistency), over every result of it evaluated so far."""
        from harness import consistency

        mine = [v for v in self.verdicts.values() if v.framework == framework]
        for v in mine:  # the verdicts as judged, before any earlier marking
            v.verdict, v.detail = self.judged.setdefault(id(v), (v.verdict, v.detail))
        recs = [consistency.record_of(v) for v in mine]
        consistency.apply(recs)
        for v, r in zip(mine, recs):
            v.verdict, v.detail = r["verdict"], r["detail"]

    def close(self):
        for eng in self.engines.values():
            eng.close()


class CaseFile(pytest.File):
    def collect(self):
        from harness.adapters import load_class

        try:
            cases = load_case_file(self.path)
        except CaseFileError as e:
            raise self.CollectError(str(e)) from None
        session = self.config._xent
        try:
            session.get_expectations(self.path)  # a missing file fails here, not per item
            session.case_files.add(str(self.path))
        except pytest.UsageError as e:
            raise self.CollectError(str(e)) from None
        for spec in session.specs():
            missing = load_class(spec.ref).installed()
            for case in cases:
                for check in case.checks + case.relation_checks:
                    name = f"{case.id}[{spec.name}-{check}]"
                    # the id given whole, as pytest's cache parses it back (path, name, [params]):
                    # built from the name alone, pytest 9 keeps "[...]" in the name, and --lf
                    # would match nothing
                    item = ParityItem.from_parent(self, name=name, nodeid=f"{self.nodeid}::{name}",
                                                  case=case, framework=spec.name, check=check,
                                                  missing=missing)
                    item.add_marker(pytest.mark.xdist_group(spec.name))
                    yield item

    class CollectError(Exception):
        pass

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, CaseFile.CollectError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class ParityFailure(Exception):
    pass


class ParityItem(pytest.Item):
    def __init__(self, *, case, framework, check, missing, **kw):
        super().__init__(**kw)
        self.case, self.framework, self.check, self.missing = case, framework, check, missing
        self.verdict = None

    def runtest(self):
        if self.missing:
            pytest.skip(self.missing)
        session = self.config._xent
        key = (self.case.id, self.framework, self.check)
        if key not in session.verdicts:
            why = session.evaluate(self.session.items, self.framework)
            if why:
                pytest.skip(f"{self.framework} worker not available: {why}")
        v = self.verdict = session.verdicts[key]
        exp, holds = match(session.get_expectations(), *key, v.verdict, v.convention, v.fitting)
        if exp is not None:
            if holds:
                pytest.xfail(f"{exp.reason} ({exp.link})")
            raise ParityFailure(f"expectation {exp.describe()} no longer holds: now {v.explain()}")
        if v.verdict == PASS:
            return
        if v.verdict == DIVERGENT:  # a convention the framework documents: conformant
            self.user_properties.append(("convention", v.convention))
            return
        if v.verdict == KNOWN_DEFECT:
            decl = session.declaration(self.framework, v.convention)
            pytest.xfail(f"known defect {v.convention}: {decl}")
        if v.verdict == UNSUPPORTED:
            pytest.skip(f"unsupported: {v.detail}")
        raise ParityFailure(v.explain())

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ParityFailure):
            lines = [str(excinfo.value)]
            if self.verdict is not None and self.verdict.comparison is not None:
                lines.append(self.verdict.comparison.summary())
            lines.append("reproduce: " + shlex.join([
                "python", "-m", "harness", "explain", self.case.id, self._shown_path(),
                "--frameworks", self.framework, "--reproducer"]))
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def _shown_path(self) -> str:
        """The case file as the command should name it from where pytest was started: relative
        when it lies below that folder, else absolute (a file outside the rootdir included)."""
        here = Path(self.config.invocation_params.dir)
        path = Path(self.path).resolve()
        try:
            return str(path.relative_to(here.resolve()))
        except ValueError:
            return str(path)

    def reportinfo(self):
        return self.path, 0, f"{self.case.id} [{self.framework} {self.check}]"


def pytest_deselected(items):
    for it in items:
        s = getattr(it.config, "_xent", None)
        if s is not None:
            s.deselected += 1


def pytest_collection_finish(session):
    s = getattr(session.config, "_xent", None)
    if s is not None:
        s.collected = [(it.case.id, it.framework, it.check) for it in session.items
                       if isinstance(it, ParityItem)]


def pytest_terminal_summary(terminalreporter, config):
    _summarise_xfails(terminalreporter, config)
    s = getattr(config, "_xent", None)
    if not s or s.expectations is None:
        return
    # only what this run could have matched: entries of the selected frameworks; when items were
    # deselected (`-k`, `--deselect`), only those naming an item that ran (an entry that names
    # nothing at all is reported by a full run)
    from harness.expectations import covers

    # entries about these case files only: the file was named, or lies beside one of them (the
    # repository's file, used for a case file of one's own, is about other cases)
    if config.getoption("expectations") is None and not covers(s.expectations_path,
                                                                s.case_files):
        return
    selected = {spec.name for spec in s.specs()}
    unmatched = [e for e in s.expectations if not e.matched and e.framework in selected
                 and (not s.deselected or any(e.selects(*key) for key in s.collected))]
    if unmatched:
        terminalreporter.section("xent-parity: expectations that matched no collected result")
        for e in unmatched:
            terminalreporter.write_line(e.describe())


def _summarise_xfails(tr, config):
    """With xfails in pytest's short summary (-ra, -rx), the case files' xfails grouped by reason
    instead of one line each: the reason, the count and one item. Runs before pytest prints the
    short summary (its own hook yields to the others first)."""
    if "x" not in getattr(tr, "reportchars", "") or config.getoption("parity_xfail_lines"):
        return
    mine, others, kinds = defaultdict(list), [], {}
    for rep in tr.stats.get("xfailed", []):
        file = rep.nodeid.split("::")[0] if "::" in rep.nodeid else None
        if file is not None and file not in kinds:  # each file read once, not once per item
            kinds[file] = case_file_kind(config.rootpath / file)
        if file is not None and kinds[file]:
            mine[getattr(rep, "wasxfail", "")].append(rep.nodeid)
        else:
            others.append(rep)
    if not mine:
        return
    tr.reportchars = tr.reportchars.replace("x", "")  # the short summary leaves them to us
    n = sum(len(v) for v in mine.values())
    tr.section(f"xent-parity: {n} expected failures of case files, by reason")
    for reason, ids in sorted(mine.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        tr.write_line(f"{len(ids):5d} x {reason}")
        tr.write_line(f"        e.g. {ids[0]}")
    for rep in others:  # xfails of ordinary tests, as pytest prints them
        reason = getattr(rep, "wasxfail", "")
        tr.write_line(f"XFAIL {rep.nodeid}" + (f" - {reason}" if reason else ""))
