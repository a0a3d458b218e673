"""Bad case files: the YAML loader (and the expectations loader) either load a file or raise
`CaseFileError` whose message starts with `<file>:<line>:` and names the key at fault; never any
other exception. Hypothesis generates hundreds of malformed, mistyped and out-of-range files;
hand-written files cover deep nesting, huge numbers, anchors, aliases and tags. Grids that are
absurd (10^9 combinations) or whose one case is larger than memory are refused before any work.
"""

from __future__ import annotations

import itertools
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness import cases as cases_mod
from harness.cases import (CALLS, CHECKS, DISTS, INPUTS, INVALID, LABELS, MAX_CASES, MODES,
                           REDUCTIONS, SCHEMA, SOFT_DISTS, WEIGHTS, CaseFileError, case_id,
                           load_case_file)
from harness.dtypes import FORMATS
from harness.expectations import KEYS as EXP_KEYS
from harness.expectations import load_expectations
from harness.verdicts import VERDICTS

FUZZ = settings(max_examples=250, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


_counter = itertools.count()


def _write(folder: Path, content: str | bytes) -> Path:
    p = folder / f"f{next(_counter)}.yaml"
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_bytes(content.encode("utf-8", "surrogatepass"))
    return p


def _line_of(path: Path, msg: str) -> int:
    """The line a CaseFileError names; fails unless the message starts with `<file>:<line>: `."""
    m = re.match(re.escape(str(path)) + r":(\d+): \S", msg)
    assert m, f"message does not start with {path}:<line>: -> {msg!r}"
    return int(m.group(1))


def check_loads_or_refuses(path: Path, loader=load_case_file):
    """Either a result, or CaseFileError with file:line (a line of the file); anything else escapes
    and fails the test."""
    try:
        return loader(path)
    except CaseFileError as e:
        msg = str(e)
        line = _line_of(path, msg)
        raw = path.read_bytes().decode("utf-8", "replace")
        n_lines = len(re.split(r"\r\n|[\r\n\x85\u2028\u2029]", raw))  # YAML's line breaks
        assert 0 <= line <= n_lines, (line, n_lines, msg)
        assert len(msg) < 2000, "an error message must stay readable"
        return e


# -- strategies ------------------------------------------------------------------------------------
GOOD = {
    "shape": st.sampled_from([[4, 3], [2, 5], [3, 4, 2], [0, 3], [1, 1]]),
    "axis": st.sampled_from([-1, 0, 1]),
    "dtype": st.sampled_from(list(FORMATS)),
    "label": st.sampled_from(LABELS),
    "input": st.sampled_from(INPUTS),
    "weight": st.sampled_from(WEIGHTS),
    "ignore_index": st.sampled_from([-100, -1, 0, 2]),
    "ignore_frac": st.sampled_from([0.0, 0.25, 1.0]),
    "reduction": st.sampled_from(REDUCTIONS),
    "smoothing": st.sampled_from([0.0, 0.1, 1]),
    "dist": st.sampled_from(DISTS),
    "checks": st.sampled_from([["forward"], ["grad"], ["forward", "grad"]]),
    "invalid": st.sampled_from([None, *INVALID]),
    "relations": st.sampled_from([[], ["permute"], ["weight-ones", "sum-of-none"]]),
    "ignore_at": st.sampled_from([[], [0], [1, 2]]),
    "soft_dist": st.sampled_from(SOFT_DISTS),
    "call": st.sampled_from(CALLS),
    "mode": st.sampled_from(MODES),
    "defaults": st.booleans(),
}
KEYWORDS = list(SCHEMA) + ["defaults", "blocks", "grid", "cases", "exclude", "name",
                           "description"]
safe_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10), st.integers(),
    st.integers(-(2 ** 80), 2 ** 80), st.floats(allow_nan=True, allow_infinity=True),
    safe_text, st.sampled_from(KEYWORDS + list(FORMATS) + list(LABELS) + list(INVALID)
                               + list(CHECKS) + ["", "null", "~", "yes", "1e400", "-.inf"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.one_of(st.sampled_from(KEYWORDS), safe_text, st.integers()), inner, max_size=3),
    max_leaves=12)


def _param_value(key):
    return st.one_of(GOOD[key], GOOD[key], values)


params = st.dictionaries(st.sampled_from(list(SCHEMA)), values, max_size=4).flatmap(
    lambda d: st.fixed_dictionaries({k: _param_value(k) for k in d}))
junk_key = st.one_of(safe_text, st.integers(), st.sampled_from(KEYWORDS))
grid = st.dictionaries(st.sampled_from(list(SCHEMA)), st.just(0), min_size=0, max_size=4).flatmap(
    lambda d: st.fixed_dictionaries({k: st.one_of(st.lists(GOOD[k], min_size=0, max_size=3),
                                                  GOOD[k], values) for k in d}))
block = st.fixed_dictionaries({}, optional={
    "name": st.one_of(safe_text, values), "description": values,
    "grid": st.one_of(grid, grid, values), "cases": st.one_of(st.lists(params, max_size=3), values),
    "exclude": st.one_of(st.lists(params, max_size=2), values)})


@st.composite
def nearly_valid_document(draw):
    """A well-formed file (it loads), with at most a couple of values or keys corrupted: reaches
    the schema checks, grid expansion, exclusions, case IDs and the whole-case checks."""
    n_bad = draw(st.sampled_from([0, 0, 1, 2]))

    def value(key):
        return draw(GOOD[key])

    def pmap(keys):
        return {k: value(k) for k in keys}

    keys = st.lists(st.sampled_from([k for k in SCHEMA if k != "shape"]), max_size=3, unique=True)
    doc = {"defaults": {"shape": value("shape"), **pmap(draw(keys))}, "blocks": []}
    for bi in range(draw(st.integers(1, 3))):
        # a distinct ignore_index per block and case keeps most IDs apart (duplicates still occur)
        if draw(st.booleans()):
            g = {k: draw(st.lists(GOOD[k], min_size=1, max_size=3, unique_by=repr))
                 for k in draw(st.lists(st.sampled_from(list(SCHEMA)), min_size=1, max_size=3,
                                        unique=True))}
            g.setdefault("ignore_index", [-1000 - 10 * bi])
            b = {"grid": g}
            if draw(st.booleans()):
                b["exclude"] = [pmap(draw(keys)) or {"dtype": "float16"}]
        else:
            b = {"cases": [{"ignore_index": -1000 - 10 * bi - ci, **pmap(draw(keys))}
                           for ci in range(draw(st.integers(1, 3)))]}
        doc["blocks"].append(b)
    for _ in range(n_bad):  # corrupt one value (or add a junk key) somewhere
        target = draw(st.sampled_from(["defaults"] + [i for i in range(len(doc["blocks"]))]))
        m = doc["defaults"] if target == "defaults" else next(iter(doc["blocks"][target].values()))
        if isinstance(m, list):
            m = m[0]
        m[draw(st.one_of(st.sampled_from(list(SCHEMA)), junk_key))] = draw(values)
    return doc


document = st.one_of(
    nearly_valid_document(), nearly_valid_document(),
    st.fixed_dictionaries({}, optional={
        "defaults": st.one_of(params, params, values),
        "blocks": st.one_of(st.lists(block, max_size=3), st.lists(block, max_size=3), values),
        "description": values}),
    st.fixed_dictionaries({"blocks": st.lists(block, min_size=1, max_size=2)},
                          optional={"defaults": params}).flatmap(
        lambda d: st.dictionaries(junk_key, values, max_size=1).map(lambda j: {**d, **j})),
    values)


def _dump(doc, flow) -> str:
    return yaml.safe_dump(doc, default_flow_style=flow, sort_keys=False, allow_unicode=True,
                          width=10 ** 6)


MUTATIONS = ["insert", "delete", "duplicate-line", "drop-line", "indent", "tag", "alias", "anchor",
             "truncate"]
NASTY = ["!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!!binary 'x%'",
         "!!int 'zz'", "!!float 'x'", "!!timestamp '2001-99-99'", "!!omap [1, 2]", "!!set [1]",
         "!!map [1]", "!!seq {a: 1}", "*nowhere", "&a [*a]", "{<<: 5}", "<<: *x", "? [1, 2]",
         "1" * 5000, "0x" + "f" * 4000, "2001-13-45", "'\\x00'", "\"\\x00\"", "\t", "%TAG ! !foo",
         "--- !<tag:yaml.org,2002:python/tuple> [1]", "[" * 300, "]", "}", "- - - -", ": :", "|",
         ">-\n  x", "\x85", "\ufeff", "\x00", "\x1b", "\udc80"]


@st.composite
def mutated_text(draw):
    text = _dump(draw(document), draw(st.sampled_from([False, True, None])))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        lines = text.split("\n")
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "insert":
            pos = draw(st.integers(0, len(text)))
            text = text[:pos] + draw(st.one_of(st.sampled_from(NASTY), safe_text)) + text[pos:]
        elif kind == "delete" and text:
            a = draw(st.integers(0, len(text) - 1))
            text = text[:a] + text[a + draw(st.integers(1, 5)):]
        elif kind == "duplicate-line":
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif kind == "drop-line":
            del lines[i]
            text = "\n".join(lines)
        elif kind == "indent":
            lines[i] = " " * draw(st.integers(1, 3)) + lines[i]
            text = "\n".join(lines)
        elif kind == "tag":
            lines[i] = lines[i].replace(": ", ": " + draw(st.sampled_from(NASTY[:10])) + " ", 1)
            text = "\n".join(lines)
        elif kind == "alias":
            lines[i] = lines[i].replace(": ", ": *a ", 1)
            text = "\n".join(lines)
        elif kind == "anchor":
            lines[i] = lines[i].replace(": ", ": &a ", 1)
            text = "\n".join(lines)
        elif kind == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
    return text


yaml_alphabet = st.sampled_from(list("abc01-.:[]{},&*!|>'\"%@`#? \n\t~<=") + ["\n  ", "\n- ",
                                "shape", "blocks", "grid", "cases", "dtype", "!!", "<<"])


# -- fuzzing ---------------------------------------------------------------------------------------
@FUZZ
@given(doc=document, flow=st.sampled_from([False, True, None]))
def test_fuzz_structured_documents(folder, doc, flow):
    got = check_loads_or_refuses(_write(folder, _dump(doc, flow)))
    if isinstance(got, list):  # what loads is sorted, unique, valid, and named by its parameters
        ids = [c.id for c in got]
        assert got and ids == sorted(set(ids))
        for c in got:
            assert c.id == case_id(c.params)
            assert all(SCHEMA[k](v) is None for k, v in c.params.items()
                       if k != "explicit"), c.params  # explicit: what a defaults case sets
            assert set(c.params.get("explicit", ())) <= set(SCHEMA)


@FUZZ
@given(text=mutated_text())
def test_fuzz_broken_syntax_tags_and_aliases(folder, text):
    check_loads_or_refuses(_write(folder, text))


@settings(FUZZ, max_examples=200)
@given(text=st.lists(yaml_alphabet, max_size=60).map("".join))
def test_fuzz_yaml_like_noise(folder, text):
    check_loads_or_refuses(_write(folder, text))


@settings(FUZZ, max_examples=150)
@given(data=st.binary(max_size=200), prefix=st.sampled_from([b"", b"blocks:\n  - grid: ",
                                                              b"defaults: {shape: [2, 3]}\n"]))
def test_fuzz_raw_bytes_and_non_utf8(folder, data, prefix):
    check_loads_or_refuses(_write(folder, prefix + data))


# -- one bad key, exactly located ------------------------------------------------------------------
def _flow(v) -> str:
    out = yaml.safe_dump([v], default_flow_style=True, width=10 ** 6, allow_unicode=True).strip()
    assert out.startswith("[") and out.endswith("]") and "\n" not in out
    return out[1:-1]


printable = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=10)
bad_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(2 ** 62, 2 ** 200).flatmap(
        lambda n: st.sampled_from([n, -n])),
    st.floats(), printable, st.sampled_from(["float8", "Hard", "mean ", "[4, 3]", "1e400"]),
    st.lists(st.one_of(st.integers(-3, 2 ** 40), st.floats(), printable, st.none()), max_size=4),
    st.dictionaries(printable, st.integers(), min_size=1, max_size=2))


def _grid_values(key, value):
    """How the loader reads `key: [value]` in a grid (shape and checks values are lists)."""
    listed = [value]
    if key in ("shape", "checks") and not isinstance(value, list):
        return [listed]
    return listed


@settings(FUZZ, max_examples=400)
@given(key=st.sampled_from(list(SCHEMA)), value=bad_values,
       where=st.sampled_from(["defaults", "grid", "case"]))
def test_one_bad_value_is_refused_at_its_line_naming_its_key(folder, key, value, where):
    if where == "grid":
        assume(any(SCHEMA[key](v) for v in _grid_values(key, value)))
        text = (f"defaults:\n  shape: [4, 3]\nblocks:\n  - grid:\n      dtype: [float32]\n"
                f"      {key}: [{_flow(value)}]\n")
        line = 6 if key != "dtype" else None  # dtype given twice: a duplicate key
        if key == "dtype":
            text = text.replace("      dtype: [float32]\n", "      reduction: [mean]\n")
            line = 6
    else:
        assume(SCHEMA[key](value))
        if where == "defaults":
            text = (f"defaults:\n  shape: [4, 3]\n  {key}: {_flow(value)}\nblocks:\n"
                    f"  - cases:\n      - {{}}\n")
            line = 3
            if key == "shape":
                text = f"defaults:\n  {key}: {_flow(value)}\nblocks:\n  - cases:\n      - {{}}\n"
                line = 2
        else:
            text = (f"defaults:\n  shape: [4, 3]\nblocks:\n  - cases:\n      - reduction: mean\n"
                    f"        {key}: {_flow(value)}\n")
            line = 6
    p = _write(folder, text)
    with pytest.raises(CaseFileError) as e:
        load_case_file(p)
    msg = str(e.value)
    assert _line_of(p, msg) == line, (text, msg)
    assert f"key {key!r}" in msg, msg


@settings(FUZZ, max_examples=150)
@given(key=st.one_of(printable, st.integers(), st.sampled_from(["Shape", "dtypes", "grid", "x"])),
       where=st.sampled_from(["top", "defaults", "block", "grid", "case", "exclude"]))
def test_unknown_key_is_refused_at_its_line_naming_it(folder, key, where):
    allowed = {"top": {"defaults", "blocks", "description"}, "block": cases_mod.BLOCK_KEYS}.get(
        where, set(SCHEMA))
    assume(key not in allowed and key not in ("shape", "dtype", "blocks", "defaults", "<<"))
    k = _flow(key)
    assume(not k.startswith(("&", "*", "!", "?")) and k != "")
    body = {
        "top": (f"defaults:\n  shape: [4, 3]\n{k}: 1\nblocks:\n  - cases: [{{}}]\n", 3),
        "defaults": (f"defaults:\n  shape: [4, 3]\n  {k}: 1\nblocks:\n  - cases: [{{}}]\n", 3),
        "block": (f"defaults:\n  shape: [4, 3]\nblocks:\n  - cases: [{{}}]\n    {k}: 1\n", 5),
        "grid": (f"defaults:\n  shape: [4, 3]\nblocks:\n  - grid:\n      dtype: [float32]\n"
                 f"      {k}: [1]\n", 6),
        "case": (f"defaults:\n  shape: [4, 3]\nblocks:\n  - cases:\n      - dtype: float32\n"
                 f"        {k}: 1\n", 6),
        "exclude": (f"defaults:\n  shape: [4, 3]\nblocks:\n  - grid:\n      dtype: [float32]\n"
                    f"    exclude:\n      - dtype: float64\n        {k}: 1\n", 8),
    }
    text, line = body[where]
    p = _write(folder, text)
    with pytest.raises(CaseFileError) as e:
        load_case_file(p)
    msg = str(e.value)
    assert _line_of(p, msg) == line, (text, msg)
    loaded_key = yaml.safe_load(f"{k}: 1")
    assert repr(next(iter(loaded_key))) in msg, msg


# -- hand-written nasty files ----------------------------------------------------------------------
HEAD = "defaults: {shape: [2, 3]}\nblocks:\n  - cases:\n"
NASTY_FILES = {
    "deep-flow-nesting": "[" * 5000 + "]" * 5000,
    "deep-block-nesting": "blocks:\n" + "- " * 3000 + "x\n",
    "deep-mapping-nesting": "defaults: " + "{a: " * 3000 + "1" + "}" * 3000 + "\nblocks: []\n",
    "nul-character": "blocks:\n  - \x00\n",
    "escape-character": "blocks:\n  - grid: {dtype: [\x1b]}\n",
    "bom": "\ufeff" + HEAD + "      - {}\n",
    "tab-indentation": "blocks:\n\t- grid: {}\n",
    "empty-file": "",
    "only-comment": "# nothing\n",
    "null-document": "~\n",
    "scalar-document": "42\n",
    "list-document": "- 1\n- 2\n",
    "two-documents": HEAD + "      - {}\n---\nblocks: []\n",
    "huge-decimal-integer": HEAD + "      - {ignore_index: " + "9" * 5000 + "}\n",
    "huge-hex-integer": HEAD + "      - {ignore_index: 0x" + "f" * 5000 + "}\n",
    "huge-integer-key": HEAD + "      - {" + "9" * 4000 + ": 1}\n",
    "int64-overflow-ignore-index": HEAD + "      - {ignore_index: 9223372036854775808}\n",
    "huge-axis": HEAD + "      - {axis: 100000000000000000000}\n",
    "huge-float": HEAD + "      - {smoothing: 1.0e+400}\n",
    "nan-smoothing": HEAD + "      - {smoothing: .nan}\n",
    "huge-class-axis-hidden-by-zero": "defaults: {shape: [0, 100000000000000000000]}\n"
                                      "blocks:\n  - cases: [{}]\n",
    "huge-shape-product": HEAD + "      - {shape: [" + ", ".join(["9" * 900] * 5) + "]}\n",
    "giant-string": HEAD + "      - {dtype: '" + "x" * 100000 + "'}\n",
    "bad-timestamp": HEAD + "      - {ignore_index: 2001-99-14}\n",
    "bad-timestamp-offset": HEAD + "      - {ignore_index: 2001-12-14t21:59:43.10-99:00}\n",
    "timestamp-value": HEAD + "      - {ignore_index: 2001-12-14}\n",
    "int-tag-on-text": HEAD + "      - {ignore_index: !!int 'abc'}\n",
    "float-tag-on-text": HEAD + "      - {smoothing: !!float 'abc'}\n",
    "timestamp-tag-on-text": HEAD + "      - {dtype: !!timestamp 'abc'}\n",
    "bool-tag-on-text": HEAD + "      - {dtype: !!bool 'abc'}\n",
    "binary-tag": HEAD + "      - {dtype: !!binary aGVsbG8=}\n",
    "bad-binary": HEAD + "      - {dtype: !!binary '%%%'}\n",
    "omap-of-scalars": HEAD + "      - {dtype: !!omap [a, b]}\n",
    "pairs": HEAD + "      - {dtype: !!pairs [{a: 1}]}\n",
    "map-tag-on-sequence": HEAD + "      - {dtype: !!map [1]}\n",
    "seq-tag-on-mapping": HEAD + "      - {dtype: !!seq {a: 1}}\n",
    "set-tag": HEAD + "      - {checks: !!set {forward: null}}\n",
    "str-tag-on-sequence": HEAD + "      - {dtype: !!str [1]}\n",
    "unknown-local-tag": HEAD + "      - {dtype: !custom x}\n",
    "python-object-apply": "blocks: !!python/object/apply:os.system ['true']\n",
    "python-name": HEAD + "      - {dtype: !!python/name:os.system ''}\n",
    "python-module": HEAD + "      - {dtype: !!python/module:os ''}\n",
    "python-object-new": HEAD + "      - !!python/object/new:dict {}\n",
    "python-tuple": HEAD + "      - {shape: !!python/tuple [2, 3]}\n",
    "undefined-alias": HEAD + "      - {dtype: *nowhere}\n",
    "recursive-alias": "a: &a [*a]\n",
    "recursive-mapping-alias": "defaults: &d {shape: [2, 3], x: *d}\nblocks: [{cases: [{}]}]\n",
    "billion-laughs": "description: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                      + "".join(f"x{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
                                for i in range(1, 9)) + "blocks: [{cases: [{shape: [2, 3]}]}]\n",
    "billion-laughs-in-description": "description: &l0 [lol, lol, lol, lol, lol, lol, lol]\n"
                                     "blocks:\n  - description: &l1 [*l0, *l0, *l0, *l0, *l0]\n"
                                     "    cases: [{shape: [2, 3]}]\n",
    "alias-as-grid-values": "defaults: {shape: [2, 3]}\nblocks:\n  - grid:\n"
                            "      dtype: &d [float32, float64]\n  - grid: {dtype: *d, "
                            "reduction: [sum]}\n",
    "merge-key-override": "defaults: &b {shape: [2, 3], dtype: float32}\nblocks:\n  - cases:\n"
                          "      - {<<: *b, dtype: float64}\n",
    "merge-scalar": HEAD + "      - {<<: 5}\n",
    "merge-list-of-scalars": HEAD + "      - {<<: [1, 2]}\n",
    "sequence-as-key": "? [1, 2]\n: x\n",
    "mapping-as-key": "? {a: 1}\n: x\n",
    "null-key": "~: 1\nblocks: []\n",
    "duplicate-key": "blocks: []\nblocks: []\n",
    "defaults-scalar": "defaults: 5\nblocks:\n  - cases: [{shape: [2, 3]}]\n",
    "defaults-list": "defaults: [1]\nblocks:\n  - cases: [{shape: [2, 3]}]\n",
    "case-scalar": HEAD + "      - 5\n",
    "block-scalar": "blocks:\n  - 5\n",
    "blocks-mapping": "blocks: {grid: {}}\n",
    "grid-scalar": "blocks:\n  - grid: 5\n",
    "grid-and-cases": "blocks:\n  - grid: {shape: [[2, 3]]}\n    cases: [{shape: [2, 3]}]\n",
    "exclude-scalar": "blocks:\n  - grid: {shape: [[2, 3]]}\n    exclude: 5\n",
    "exclude-list-of-scalars": "blocks:\n  - grid: {shape: [[2, 3]]}\n    exclude: [5]\n",
    "exclude-unhashable-values": "blocks:\n  - grid: {shape: [[2, 3]]}\n"
                                 "    exclude: [{dtype: [[1]], shape: {a: 1}}]\n",
    "missing-shape": "blocks:\n  - cases: [{}]\n",
    "class-axis-zero": "blocks:\n  - cases: [{shape: [3, 0]}]\n",
    "axis-out-of-range": "blocks:\n  - cases: [{shape: [3, 2], axis: 2}]\n",
    "empty-checks": HEAD + "      - {checks: []}\n",
    "repeated-checks": HEAD + "      - {checks: [forward, forward]}\n",
    "nested-checks-in-grid": "blocks:\n  - grid: {shape: [[2, 3]], checks: [forward, [grad]]}\n",
    "windows-newlines": HEAD.replace("\n", "\r\n") + "      - {}\r\n",
    "old-mac-newlines": HEAD.replace("\n", "\r") + "      - {}\r",
    "directive-only": "%YAML 1.1\n---\n",
    "bad-directive": "%YAML 9.9\n---\nblocks: []\n",
}


@pytest.mark.parametrize("name", list(NASTY_FILES))
def test_nasty_files_load_or_are_refused_cleanly(folder, name):
    check_loads_or_refuses(_write(folder, NASTY_FILES[name]))


@pytest.mark.parametrize("name, key", [
    ("huge-decimal-integer", None), ("huge-hex-integer", "ignore_index"),
    ("int64-overflow-ignore-index", "ignore_index"), ("huge-axis", "axis"),
    ("huge-class-axis-hidden-by-zero", "shape"), ("huge-shape-product", "shape"),
    ("giant-string", "dtype"), ("defaults-scalar", "defaults"), ("defaults-list", None),
    ("case-scalar", "cases"), ("python-object-apply", None), ("deep-flow-nesting", None),
    ("nul-character", None), ("bad-timestamp", None), ("timestamp-value", "ignore_index")])
def test_out_of_range_and_unsafe_files_are_refused(folder, name, key):
    result = check_loads_or_refuses(_write(folder, NASTY_FILES[name]))
    assert isinstance(result, CaseFileError), f"{name} loaded: {result}"
    if key:
        assert f"key {key!r}" in str(result), str(result)
    if name not in ("deep-flow-nesting", "nul-character"):
        assert _line_of(Path(str(result).split(":")[0]), str(result)) >= 1, str(result)


def test_merge_keys_may_override_and_aliases_load(folder):
    got = load_case_file(_write(folder, NASTY_FILES["merge-key-override"]))
    assert [c.params["dtype"] for c in got] == ["float64"]
    got = load_case_file(_write(folder, NASTY_FILES["alias-as-grid-values"]))
    assert len(got) == 4  # {f32, f64} x mean and {f32, f64} x sum


def test_python_tag_executes_nothing(folder):
    marker = folder / "pwned"
    text = f"blocks: !!python/object/apply:os.mkdir [{str(marker)!r}]\n"
    err = check_loads_or_refuses(_write(folder, text))
    assert isinstance(err, CaseFileError) and not marker.exists()


# -- duplicates, empty grids, absurd grids, huge cases ---------------------------------------------
def test_duplicate_ids_are_refused_even_across_spellings(folder):
    p = _write(folder, textwrap.dedent("""\
        defaults: {shape: [2, 3]}
        blocks:
          - grid: {reduction: [mean], dtype: [float32]}
          - cases:
              - {smoothing: 0, ignore_frac: 0.0, weight: none}
        """))
    with pytest.raises(CaseFileError, match=r":5: duplicate case ID hard-mean-\S+ \(first defined "
                                            r"at .*:3\)"):
        load_case_file(p)


@pytest.mark.parametrize("text", [
    "blocks:\n  - grid: {shape: [[2, 3]], dtype: [float32, float64]}\n"
    "    exclude: [{dtype: [float32, float64]}]\n",
    "blocks:\n  - grid: {shape: [[2, 3]], label: [soft], ignore_frac: [0.5]}\n",
    "blocks:\n  - grid: {shape: [[2, 3]], input: [probs], dist: [gaps, neginf, large]}\n",
    "blocks: []\n", "blocks:\n  - grid: {}\n", "blocks:\n  - cases: []\n",
    "blocks:\n  - grid: {shape: [[2, 3]], dtype: []}\n",
])
def test_empty_grids_are_refused(folder, text):
    p = _write(folder, text)
    with pytest.raises(CaseFileError) as e:
        load_case_file(p)
    assert re.search(r"empty|non-empty", str(e.value)), str(e.value)
    _line_of(p, str(e.value))


def test_absurd_grid_is_refused_before_expansion_with_the_estimate(folder, monkeypatch):
    n = 1000  # 1000^3 = 10^9 combinations, every value valid
    text = ("defaults: {shape: [4, 3]}\nblocks:\n  - grid:\n"
            f"      ignore_index: [{', '.join(str(i) for i in range(n))}]\n"
            f"      ignore_frac: [{', '.join(str(i / n) for i in range(n))}]\n"
            f"      smoothing: [{', '.join(str(i / n) for i in range(n))}]\n")
    p = _write(folder, text)

    class NoExpansion:
        def product(*a, **k):
            raise AssertionError("the grid was expanded before its size was checked")

    monkeypatch.setattr(cases_mod, "itertools", NoExpansion)
    with pytest.raises(CaseFileError) as e:
        load_case_file(p)
    msg = str(e.value)
    assert _line_of(p, msg) == 3 and "key 'grid'" in msg  # the line of `- grid:`
    assert "1,000,000,000 combinations" in msg and f"{MAX_CASES:,}" in msg
    assert "ignore_index(1000) x ignore_frac(1000) x smoothing(1000)" in msg


def test_grid_at_the_limit_is_not_refused_for_its_size(folder, monkeypatch):
    monkeypatch.setattr(cases_mod, "MAX_CASES", 6)
    p = _write(folder, "defaults: {shape: [4, 3]}\nblocks:\n  - grid: {dtype: [float32, float64],"
                       " reduction: [none, sum, mean]}\n")
    assert len(load_case_file(p)) == 6
    p = _write(folder, "defaults: {shape: [4, 3]}\nblocks:\n  - grid: {dtype: [float32, float64],"
                       " reduction: [none, sum, mean], weight: [none, random]}\n")
    with pytest.raises(CaseFileError, match="12 combinations"):
        load_case_file(p)


def test_a_case_larger_than_memory_is_refused_before_any_worker_starts(folder, monkeypatch,
                                                                       capsys):
    from harness import cli, pool

    def no_worker(*a, **k):
        raise AssertionError("a worker was started for a grid that cannot fit in memory")

    monkeypatch.setattr(pool.Worker, "launch", no_worker)
    monkeypatch.setattr(pool.Worker, "start", no_worker)
    monkeypatch.setattr(cli, "_available_memory", lambda: 8 << 30)  # 8 GiB, whatever the machine
    p = _write(folder, "blocks:\n  - cases:\n      - {shape: [4, 3]}\n"
                       "      - {shape: [65536, 32768], dtype: float64, label: soft}\n")
    out = folder / "never"
    code = cli.main(["run", str(p), "--frameworks", "numpy", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "soft-mean-w=none-ii=-100-ax=-1-f64-65536x32768" in err
    # soft labels are held whole: 2^31 float64 elements = 16 GiB, times (4 + 4 x 1 framework)
    assert re.search(r"needs about 128\.0 GiB with 1 frameworks, more than the 8\.0 GiB", err), err
    assert not out.exists()


def test_a_streamed_case_counts_the_harness_need_only(folder, monkeypatch, capsys):
    """Hard-label logits of 16 GiB are generated in blocks to a file: the harness needs them once
    (the frameworks are checked one by one in their workers), whatever the number of frameworks."""
    from harness import cli, pool

    monkeypatch.setattr(pool.Worker, "launch", lambda *a: pytest.fail("a worker was started"))
    monkeypatch.setattr(cli, "_available_memory", lambda: 8 << 30)
    p = _write(folder, "blocks:\n  - cases:\n      - {shape: [65536, 32768], dtype: float64}\n")
    code = cli.main(["run", str(p), "--frameworks", "numpy,torch", "--out", str(folder / "n")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert re.search(r"needs about 16\.\d GiB in the harness \(frameworks apart\), more than the "
                     r"8\.0 GiB", err), err


def test_a_huge_class_axis_counts_even_without_positions(folder, monkeypatch, capsys):
    """[0, 2^31] has no element, but its class weights and soft-label parameters are [C]."""
    from harness import cli, pool

    monkeypatch.setattr(pool.Worker, "launch", lambda *a: pytest.fail("a worker was started"))
    monkeypatch.setattr(cli, "_available_memory", lambda: 8 << 30)
    p = _write(folder, "blocks:\n  - cases:\n      - {shape: [0, 2147483648], dtype: float64, "
                       "label: soft, weight: random}\n")
    assert cli.main(["run", str(p), "--frameworks", "numpy", "--out", str(folder / "x")]) == 2
    assert "needs about 128.0 GiB" in capsys.readouterr().err


def test_a_case_that_fits_in_memory_is_not_refused(folder, monkeypatch):
    from harness import cli

    seen = []
    monkeypatch.setattr(cli, "_available_memory", lambda: 8 << 30)
    monkeypatch.setattr("harness.orchestrate.execute", lambda plan, specs, out, **k: (
        seen.append(len(plan.cases)), ({"environment": {"frameworks": {}}}, True))[1])
    p = _write(folder, "blocks:\n  - cases:\n      - {shape: [1024, 1024], dtype: float64}\n")
    assert cli.main(["run", str(p), "--frameworks", "numpy", "--out", str(folder / "o")]) == 0
    assert seen == [1]


def test_invalid_kinds_that_do_not_apply_to_the_label_kind_are_skipped(folder):
    """Every case marked invalid must really be invalid: the reference refuses it (otherwise a
    correct framework would be reported as accepting bad input)."""
    import reference
    from harness.inputs import generate_inputs

    p = _write(folder, "defaults: {shape: [4, 3]}\nblocks:\n  - grid:\n"
                       "      label: [hard, hard-keepdim, soft]\n"
                       f"      invalid: [{', '.join(INVALID)}]\n      checks: [[forward]]\n")
    got = load_case_file(p)
    assert got
    for c in got:
        d = generate_inputs(c.params, c.id)
        with pytest.raises(ValueError):
            reference.cross_entropy(d.x.astype("float64"), d.label, d.weight, **d.ref_kwargs)


# -- the expectations loader -----------------------------------------------------------------------
exp_entry = st.fixed_dictionaries({}, optional={
    "case": st.one_of(st.just("hard-*"), values), "framework": st.one_of(st.just("torch"), values),
    "check": st.one_of(st.sampled_from(["any", "forward", "grad", "both"]), values),
    "verdict": st.one_of(st.sampled_from(VERDICTS + ("fail",)), values),
    "convention": st.one_of(st.just("soft-weight-per-class"), values),
    "reason": st.one_of(st.just("why"), values), "link": st.one_of(st.just("https://x"), values),
    "extra": values})
exp_doc = st.one_of(st.lists(exp_entry, max_size=3), values)


@FUZZ
@given(doc=exp_doc, flow=st.sampled_from([False, True]))
def test_fuzz_expectations(folder, doc, flow):
    out = check_loads_or_refuses(_write(folder, _dump(doc, flow)), load_expectations)
    if not isinstance(out, CaseFileError):
        for e in out:  # what loads is well-typed
            assert all(isinstance(getattr(e, k), str) and getattr(e, k)
                       for k in ("case", "framework", "verdict", "reason", "link"))
            assert e.verdict in VERDICTS and e.check in ("any", "forward", "grad")
            assert e.convention is None or isinstance(e.convention, str)


@settings(FUZZ, max_examples=100)
@given(text=mutated_text())
def test_fuzz_expectations_broken_syntax(folder, text):
    check_loads_or_refuses(_write(folder, text), load_expectations)


ENTRY = ("- case: 'hard-*'\n  framework: torch\n  check: forward\n  verdict: divergent\n"
         "  convention: soft-weight-per-class\n  reason: why\n  link: https://example.org\n")


@pytest.mark.parametrize("key", sorted(EXP_KEYS) + ["colour"])
@pytest.mark.parametrize("bad", ["", "[1, 2]", "{a: 1}", "12", "~", "!!binary aGk=", "2001-12-14"])
def test_expectations_bad_value_names_the_key(folder, key, bad):
    lines = ENTRY.splitlines()
    idx = next((i for i, line in enumerate(lines) if line.strip().startswith(f"{key}:")), None)
    if idx is None:
        lines.append(f"  {key}: {bad}")
        idx = len(lines) - 1
    else:
        lines[idx] = f"  {key}: {bad}"
    p = _write(folder, "\n".join(lines) + "\n")
    out = check_loads_or_refuses(p, load_expectations)
    assert isinstance(out, CaseFileError), f"{key}: {bad!r} was accepted: {out}"
    assert f"key {key!r}" in str(out), str(out)
    assert _line_of(p, str(out)) in (1, idx + 1), str(out)


def test_expectations_python_tags_and_nesting_fail_cleanly(folder):
    for text in ("- !!python/object/apply:os.system ['true']\n", "[" * 5000 + "]" * 5000,
                 ENTRY.replace("torch", "!!python/name:os.system ''"), "\x00",
                 ENTRY + "- case: *nope\n"):
        out = check_loads_or_refuses(_write(folder, text), load_expectations)
        assert isinstance(out, CaseFileError)
