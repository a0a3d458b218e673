"""Case grids: the YAML language, its schema, grid expansion and case IDs.

A case file holds `defaults` and a list of `blocks`. A block is either a `grid` (the cartesian
product of the listed values of each axis, minus its `exclude` patterns) or a list of explicit
`cases`. Files are loaded with PyYAML's SafeLoader (data only, nothing executed) and checked against
the schema below; every error names `file:line` and the key.

Axes (SCHEMA) and the ID they give, e.g. ``hard-mean-w=random-ii=-100-ax=-1-f32-8x5``::

    shape [8, 5]   axis -1   dtype float32   label hard|hard-keepdim|soft
    input logits|probs|framework-probs (the framework's own softmax of logits, then its probability API)
    weight none|random|zeros|signed   ignore_index -100   ignore_frac 0.25   reduction none|sum|mean
    smoothing 0.1   dist normal|large|gaps|neginf|probs-zeros   checks [forward, grad]
    invalid null|label-out-of-range|...   (an invalid case's canonical answer is an error)
    relations [weight-ones, permute, onehot, ignore-relabel, moved-axis, sum-of-none]
              (metamorphic partner calls the framework must agree with: harness.relations)
    weight [0.5, 1, 2, ...] (a chosen vector, one per class)   ignore_at [0, 3] (positions, row-major)
    soft_dist dirichlet|onehot|unnormalised   dist probs-unnormalised|probs-zero-rows (probabilities)
    call functional|module   mode eager|compiled   defaults false|true
              (how the API is called: the function or the loss class, eager or through the
              framework's compiler, every argument or only those the case itself sets; adapters
              declare which they have, harness.adapters.base.Capabilities)

A case in a `cases:` block may bring its own arrays: `id:` and `data: FILE.npz` (relative to the
case file) or inline lists, `data: {logits: [[...]], label: [...]}` (harness.literal). Its shape
(and dtype, unless given) comes from the arrays.

Combinations that mean nothing are skipped, not errors: soft labels with ignore_frac > 0 (soft
labels ignore nothing), a logits distribution with probability input and vice versa.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from harness.dtypes import FORMATS


class CaseFileError(ValueError):
    """A case file that does not follow the schema; the message starts with `file:line`."""


def _show(v, limit: int = 80) -> str:
    """repr for messages: an integer too long to print, or a huge value, stays one short line."""
    try:
        text = repr(v) if not isinstance(v, BaseException) else str(v)
    except ValueError:  # int -> str conversion limit (4300 digits)
        return f"<an integer of {v.bit_length()} bits>"
    return text if len(text) <= limit else text[:limit - 4] + " ..."


# -- YAML with line numbers -------------------------------------------------------------------------
class _LineDict(dict):
    line: int = 0
    key_lines: dict


class _LineList(list):
    line: int = 0


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers where each mapping, key and sequence starts (1-based lines)."""

    def construct_object(self, node, deep=False):
        # SafeConstructor lets plain Python errors escape on bad scalars (2001-99-14, !!int 'x',
        # an integer of more than 4300 digits, a malformed !!omap): make them marked YAML errors
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, CaseFileError):
            raise
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError) as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read a {node.tag} value: {_show(e)}",
                node.start_mark) from None


def _construct_mapping(loader, node, deep=False):
    written = {id(k) for k, _ in node.value}  # this mapping's own keys, not those merged in by <<
    loader.flatten_mapping(node)
    d = _LineDict()
    d.line, d.key_lines = node.start_mark.line + 1, {}
    own = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise CaseFileError(f"{node.start_mark.name}:{key_node.start_mark.line + 1}: "
                                f"a mapping key must be a scalar") from None
        if key in own:  # a key merged in by << may be overridden (flatten_mapping orders them)
            raise CaseFileError(f"{node.start_mark.name}:{key_node.start_mark.line + 1}: "
                                f"key {_show(key)} appears twice in one mapping")
        if id(key_node) in written:
            own.add(key)
        d[key] = loader.construct_object(value_node, deep=True)
        d.key_lines[key] = key_node.start_mark.line + 1
    return d


def _construct_sequence(loader, node, deep=False):
    out = _LineList(loader.construct_object(c, deep=True) for c in node.value)
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


MAX_FILE_BYTES = 4 << 20  # a case file is text a person writes: the default grid is 6 KiB
MAX_NODES = 200_000  # values after alias expansion: the default grid has about 1,500


def read_text_file(path: str | Path, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes. A FIFO, a device or a
    directory is refused without blocking (a FIFO is opened non-blocking and never read), and so
    is a larger file, before it is read whole. Raises CaseFileError naming the file."""
    import os
    import stat

    path = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise CaseFileError(f"{path}:0: cannot read: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a directory"
                    if stat.S_ISDIR(st.st_mode) else "a device or special file")
            raise CaseFileError(f"{path}:0: is {kind}, not a regular file; refused")
        if st.st_size > limit:
            raise CaseFileError(f"{path}:0: is {st.st_size} bytes, more than the {limit} a case "
                                "file may have; refused")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = None
            raw = f.read(limit + 1)
    except OSError as e:
        raise CaseFileError(f"{path}:0: cannot read: {e.strerror}") from None
    finally:
        if fd is not None:
            os.close(fd)
    if len(raw) > limit:
        raise CaseFileError(f"{path}:0: is more than the {limit} bytes a case file may have; "
                            "refused")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CaseFileError(f"{path}:0: not UTF-8 text ({e.reason})") from None


def _expanded_size(node, limit: int) -> int:
    """How many values `node` stands for with every alias expanded (stops counting past
    `limit`; a value that contains itself, through a recursive alias, counts as unlimited): a
    579-byte document of nested aliases can stand for billions."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()  # on the current path: met again, the alias is recursive
    stack = [(node, False)]
    while stack:
        n, done = stack.pop()
        if done:
            open_.discard(id(n))
            sizes[id(n)] = min(limit + 1, 1 + sum(sizes.get(id(c), 1) for c in _children(n)))
            continue
        if id(n) in sizes:
            continue
        if id(n) in open_:
            return limit + 1
        open_.add(id(n))
        stack.append((n, True))
        for c in _children(n):
            if id(c) in open_:
                return limit + 1
            if id(c) not in sizes:
                stack.append((c, False))
    return sizes.get(id(node), 1)


def _children(n) -> list:
    if isinstance(n, yaml.MappingNode):
        return [c for kv in n.value for c in kv]
    return list(n.value) if isinstance(n, yaml.SequenceNode) else []


def load_yaml(path: str | Path, text: str | None = None) -> Any:
    """Safe-load YAML keeping line numbers; syntax errors become CaseFileError with file:line.
    Bounded: the file (read_text_file) and the document's values after alias expansion
    (MAX_NODES) are limited, so a crafted file is refused in a second with little memory."""
    path = str(path)
    if text is None:
        text = read_text_file(path)
    loader = None
    try:
        loader = _Loader(text)
        loader.name = path
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, MAX_NODES) > MAX_NODES:
            raise CaseFileError(f"{path}:{node.start_mark.line + 1}: the document stands for more "
                                f"than {MAX_NODES} values once its aliases are expanded (or "
                                "contains itself through a recursive alias); refused")
        return loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        raise CaseFileError(f"{path}:{line}: YAML syntax error: {e.problem or e}") from None
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (NUL, ...)
        line = len(re.split(r"\r\n|[\r\n\x85\u2028\u2029]", text[:e.position]))
        raise CaseFileError(f"{path}:{line}: YAML error: character {e.character!r} is not "
                            "allowed in YAML") from None
    except yaml.YAMLError as e:
        raise CaseFileError(f"{path}:0: YAML error: {e}") from None
    except RecursionError:
        line = loader.get_mark().line + 1 if loader is not None else 0
        raise CaseFileError(f"{path}:{line}: YAML nested too deeply for a case file") from None
    finally:
        if loader is not None:
            loader.dispose()


# -- schema -------------------------------------------------------------------------------------------
LABELS = ("hard", "hard-keepdim", "soft")
# probs: probabilities as constants; framework-probs: logits that the framework's own softmax turns
# into the probabilities its probability-input API takes (a tensor may remember where it came from)
INPUTS = ("logits", "probs", "framework-probs")
WEIGHTS = ("none", "random", "zeros", "signed")
REDUCTIONS = ("none", "sum", "mean")
DISTS = ("normal", "large", "gaps", "neginf", "probs-zeros", "probs-unnormalised", "probs-zero-rows")
LOGIT_DISTS = ("normal", "large", "gaps", "neginf")
PROB_DISTS = ("normal", "probs-zeros", "probs-unnormalised", "probs-zero-rows")
# soft labels: Dirichlet rows (sum 1), one-hot rows of the hard labels, rows that sum to anything
SOFT_DISTS = ("dirichlet", "onehot", "unnormalised")
CALLS = ("functional", "module")  # the function, or the loss class users instantiate
MODES = ("eager", "compiled")  # as written, or through the framework's compiler (harness/adapters)
CHECKS = ("forward", "grad")
INVALID = ("label-out-of-range", "label-negative", "bad-reduction", "weight-shape", "label-rank",
           "float-labels", "soft-ignore-positive")
HARD_ONLY_INVALID = ("label-out-of-range", "label-negative", "float-labels")
SOFT_ONLY_INVALID = ("soft-ignore-positive",)
MAX_ELEMENTS = 1 << 31
MAX_CASES = 200_000  # per block, before exclusions: a grid larger than this is a typo


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float))) and not isinstance(v, bool)


def _check_shape(v):
    if not isinstance(v, list) or not v or not all(_is_int(d) and d >= 0 for d in v):
        return "must be a non-empty list of non-negative integers, e.g. [8, 5]"
    if any(d > MAX_ELEMENTS for d in v):
        return f"has a dimension larger than the {MAX_ELEMENTS} element limit"
    n = 1
    for d in v:
        n *= d
    if n > MAX_ELEMENTS:
        return f"has {n} elements, more than the {MAX_ELEMENTS} limit"
    return None


def _one_of(options):
    def check(v):
        return None if v in options else f"must be one of {', '.join(map(str, options))}"
    return check


def _number_in(lo, hi):
    def check(v):
        if not _is_num(v) or not lo <= v <= hi:
            return f"must be a number in [{lo}, {hi}]"
        return None
    return check


def _check_int(v):
    return None if _is_int(v) and -2**63 <= v < 2**63 else "must be an integer (64-bit)"


def _check_checks(v):
    if not isinstance(v, list) or not v or any(c not in CHECKS for c in v) or len(set(v)) != len(v):
        return "must be a non-empty list drawn from forward, grad"
    return None


def _check_relations(v):
    from harness.relations import RELATIONS

    if (not isinstance(v, list) or not all(isinstance(r, str) and r in RELATIONS for r in v)
            or len(set(v)) != len(v)):
        return f"must be a list drawn from {', '.join(RELATIONS)}, each once"
    return None


def _check_weight(v):
    if isinstance(v, list):  # a chosen weight vector, one entry per class
        if not v or not all(_is_num(w) for w in v):
            return "must be a non-empty list of numbers (one per class)"
        return None
    return _one_of(WEIGHTS)(v)


def _check_positions(v):
    if not isinstance(v, list) or not all(_is_int(i) and i >= 0 for i in v) or len(set(v)) != len(v):
        return ("must be a list of distinct position indices (row-major over the positions, "
                "0-based), e.g. [0, 3]")
    return None


def _check_bool(v):
    return None if isinstance(v, bool) else "must be true or false"


def _check_invalid(v):
    return None if v is None or v in INVALID else f"must be null or one of {', '.join(INVALID)}"


SCHEMA = {
    "shape": _check_shape,
    "axis": _check_int,
    "dtype": _one_of(tuple(FORMATS)),
    "label": _one_of(LABELS),
    "input": _one_of(INPUTS),
    "weight": _check_weight,
    "ignore_index": _check_int,
    "ignore_frac": _number_in(0, 1),
    "reduction": _one_of(REDUCTIONS),
    "smoothing": _number_in(0, 1),
    "dist": _one_of(DISTS),
    "checks": _check_checks,
    "invalid": _check_invalid,
    "relations": _check_relations,
    "ignore_at": _check_positions,
    "soft_dist": _one_of(SOFT_DISTS),
    "call": _one_of(CALLS),
    "mode": _one_of(MODES),
    "defaults": _check_bool,
}
DEFAULTS = {"axis": -1, "dtype": "float32", "label": "hard", "input": "logits", "weight": "none",
            "ignore_index": -100, "ignore_frac": 0.0, "reduction": "mean", "smoothing": 0.0,
            "dist": "normal", "checks": ["forward", "grad"], "invalid": None, "relations": [],
            "ignore_at": [], "soft_dist": "dirichlet", "call": "functional", "mode": "eager",
            "defaults": False}
# parameters a case may leave to the API with `defaults: true` (what it does not set is not passed).
# The case's dtype is its inputs' dtype; an API's own dtype argument (keras's loss dtype) is never
# passed under `defaults: true`.
API_ARGUMENTS = ("axis", "reduction", "ignore_index", "smoothing", "weight")
TOP_KEYS = {"defaults", "blocks", "description", "xent-parity", "collect"}
# `xent-parity: 1` marks a YAML file as a case file (what pytest collects, wherever it lies);
# `collect: when-named` keeps pytest from collecting it unless it is named on the command line
MARKER, FORMAT_VERSION, COLLECT = "xent-parity", 1, ("always", "when-named")
CASE_KEYS = ("id", "data")  # keys of an explicit case only: a literal case (harness.literal)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+,-]{0,199}")
BLOCK_KEYS = {"name", "grid", "exclude", "cases", "description"}


@dataclass(frozen=True)
class Case:
    id: str
    params: dict = field(compare=False, hash=False)
    source: str = field(default="", compare=False)

    @property
    def checks(self) -> list[str]:
        return list(self.params["checks"])

    @property
    def invalid(self) -> str | None:
        return self.params["invalid"]

    @property
    def relation_checks(self) -> list[str]:
        """The checks its metamorphic relations add ('forward~permute', ...; harness.relations)."""
        from harness.relations import relation_checks

        return relation_checks(self.params)


def _fmt_num(v) -> str:
    return format(v, "g")


def case_id(p: dict) -> str:
    """The stable, readable ID of a parameter set (every parameter that changes the case is in it)."""
    parts = [p["label"]]
    if p["input"] == "probs":
        parts.append("probs")
    elif p["input"] == "framework-probs":
        parts.append("fwprobs")
    parts += [p["reduction"], f"w={_listed(p['weight'])}", f"ii={p['ignore_index']}"]
    if p["ignore_frac"]:
        parts.append(f"ig={_fmt_num(p['ignore_frac'])}")
    if p.get("ignore_at"):
        parts.append(f"at={_listed(p['ignore_at'], '+')}")
    if p.get("soft_dist", "dirichlet") != "dirichlet":
        parts.append(f"sd={p['soft_dist']}")
    if p["smoothing"]:
        parts.append(f"ls={_fmt_num(p['smoothing'])}")
    parts += [f"ax={p['axis']}", FORMATS[p["dtype"]].short, "x".join(map(str, p["shape"]))]
    if p["dist"] != "normal":
        parts.append(f"d={p['dist']}")
    if p["checks"] != ["forward", "grad"]:
        parts.append("only=" + "+".join(p["checks"]))
    if p["invalid"]:
        parts.append(f"bad={p['invalid']}")
    if p.get("relations"):
        parts.append("rel=" + "+".join(p["relations"]))
    # how the API is called; absent when functional, eager and fully specified (IDs of the cases
    # from before these axes stay as they were)
    for key, plain in (("call", "functional"), ("mode", "eager")):
        if p.get(key, plain) != plain:
            parts.append(p[key])
    if p.get("defaults"):
        parts.append("api-defaults")
    return "-".join(parts)


def _listed(v, sep: str = ",") -> str:
    """A scalar as it is; a list of numbers spelt out when short, else named by its digest."""
    if not isinstance(v, list):
        return str(v)
    if len(v) <= 8:
        return sep.join(_fmt_num(e) for e in v)
    return "given" + hashlib.sha256(json.dumps(v).encode()).hexdigest()[:8]


def _where(path, mapping, key=None) -> str:
    line = getattr(mapping, "key_lines", {}).get(key) if key is not None else None
    return f"{path}:{line or getattr(mapping, 'line', 0)}"


def _validate_params(path, mapping, keys_allowed=SCHEMA, where: str | None = None) -> None:
    if not isinstance(mapping, dict):
        # a scalar has no line of its own: `where` is the key (or list) that holds it
        where = f"{path}:{mapping.line}:" if hasattr(mapping, "line") else (where or f"{path}:0:")
        raise CaseFileError(f"{where} expected a mapping of case parameters, got "
                            f"{type(mapping).__name__}")
    for key, value in mapping.items():
        if key in CASE_KEYS and keys_allowed is not SCHEMA:
            continue  # checked with the whole case (load_case_file)
        if key not in SCHEMA:
            known = ", ".join([*SCHEMA, *(CASE_KEYS if keys_allowed is not SCHEMA else ())])
            raise CaseFileError(f"{_where(path, mapping, key)}: key {_show(key)}: unknown "
                                f"parameter (known: {known})")
        problem = SCHEMA[key](value)
        if problem:
            raise CaseFileError(f"{_where(path, mapping, key)}: key {_show(key)}: {_show(value)} "
                                f"{problem}")


def _meaningful(p: dict) -> bool:
    if p["label"] == "soft" and (p["ignore_frac"] > 0 or p["ignore_at"]) and not p["invalid"]:
        return False
    if p["label"] != "soft" and p["soft_dist"] != "dirichlet":
        return False
    # an invalid kind that does not apply to this label kind would give a valid case marked
    # invalid (generate_inputs leaves its inputs valid): skipped like other meaningless combinations
    if p["invalid"] in (HARD_ONLY_INVALID if p["label"] == "soft" else SOFT_ONLY_INVALID):
        return False
    dists = PROB_DISTS if p["input"] == "probs" else LOGIT_DISTS
    return p["dist"] in dists


def _why_not(p: dict) -> str:
    """Why `_meaningful(p)` is False, in words."""
    if p["label"] == "soft" and (p["ignore_frac"] > 0 or p["ignore_at"]) and not p["invalid"]:
        return "soft labels ignore nothing, so ignore_frac > 0 or ignore_at has no effect"
    if p["label"] != "soft" and p["soft_dist"] != "dirichlet":
        return f"soft_dist {p['soft_dist']} draws soft labels, and the labels are {p['label']}"
    if p["invalid"] in (HARD_ONLY_INVALID if p["label"] == "soft" else SOFT_ONLY_INVALID):
        return f"invalid: {p['invalid']} does not apply to {p['label']} labels"
    return f"dist {p['dist']} is not a distribution of {p['input']} input"


def _check_case(path, maps, p: dict) -> None:
    """Checks that need the whole parameter set; `maps` are where the keys may have come from."""

    def where(key):
        for m in maps:
            if key in getattr(m, "key_lines", {}):
                return _where(path, m, key)
        return _where(path, maps[-1])

    rank = len(p["shape"])
    if not -rank <= p["axis"] < rank:
        raise CaseFileError(f"{where('axis')}: key 'axis': {p['axis']} is out of range for shape "
                            f"{p['shape']}")
    if not p["invalid"] and p["shape"][p["axis"]] == 0:
        raise CaseFileError(f"{where('shape')}: key 'shape': the class axis has size 0 "
                            f"(C = 0 is invalid input)")
    C = p["shape"][p["axis"]]
    if isinstance(p["weight"], list) and len(p["weight"]) != C:
        raise CaseFileError(f"{where('weight')}: key 'weight': {len(p['weight'])} weights for "
                            f"{C} classes (shape {p['shape']}, axis {p['axis']})")
    positions = 1
    for i, d in enumerate(p["shape"]):
        positions *= d if i != p["axis"] % rank else 1
    if p["ignore_at"] and max(p["ignore_at"]) >= positions:
        raise CaseFileError(f"{where('ignore_at')}: key 'ignore_at': position "
                            f"{max(p['ignore_at'])} is beyond the {positions} positions of "
                            f"shape {p['shape']} with class axis {p['axis']}")


def _literal(path, raw, p: dict) -> str | None:
    """A literal case's ID, with `p` completed from its arrays (None for a generated case)."""
    from harness.literal import LiteralError, data_ref, literal_params

    if "id" in raw and "data" not in raw:
        raise CaseFileError(f"{_where(path, raw, 'id')}: key 'id': only a literal case (one "
                            "with data:) names its ID; a generated case's ID is its parameters")
    if "data" not in raw:
        return None
    if "id" not in raw:
        raise CaseFileError(f"{_where(path, raw, 'data')}: key 'data': a literal case needs "
                            "id: (its inputs do not derive from its parameters)")
    cid = raw["id"]
    if not isinstance(cid, str) or not _ID.fullmatch(cid):
        raise CaseFileError(f"{_where(path, raw, 'id')}: key 'id': {_show(cid)} must be 1-200 "
                            "characters of letters, digits and _.=+,- (starting with a letter "
                            "or digit)")
    for key in ("relations", "ignore_frac", "ignore_at", "dist", "soft_dist"):
        if key in raw and raw[key] != DEFAULTS[key]:
            raise CaseFileError(f"{_where(path, raw, key)}: key {key!r}: a literal case's "
                                "inputs are its arrays; this parameter makes generated inputs")
    try:
        ref = data_ref(path, raw["data"])
        p.update(literal_params(ref, p, set(raw)))
    except LiteralError as e:
        raise CaseFileError(f"{_where(path, raw, 'data')}: key 'data': {e}") from None
    p["data"] = ref
    return cid


def _expand_grid(path, block, base: dict) -> Iterable[tuple[dict, str]]:
    grid = block["grid"]
    if not isinstance(grid, dict) or not grid:
        raise CaseFileError(f"{_where(path, block, 'grid')}: key 'grid': must be a non-empty mapping "
                            "of parameter -> list of values")
    axes, values = [], []
    for key, v in grid.items():
        if key not in SCHEMA:
            raise CaseFileError(f"{_where(path, grid, key)}: key {_show(key)}: unknown parameter "
                                f"(known: {', '.join(SCHEMA)})")
        is_list_of_values = isinstance(v, list) and not (
            key in ("shape", "checks", "relations") and v and not isinstance(v[0], list))
        vals = list(v) if is_list_of_values else [v]
        if not vals:
            raise CaseFileError(f"{_where(path, grid, key)}: key {_show(key)}: the list of values "
                                "is empty")
        for val in vals:
            problem = SCHEMA[key](val)
            if problem:
                raise CaseFileError(f"{_where(path, grid, key)}: key {_show(key)}: {_show(val)} "
                                    f"{problem}")
        axes.append(key)
        values.append(vals)
    excludes = block.get("exclude") or []
    if not isinstance(excludes, list):
        raise CaseFileError(f"{_where(path, block, 'exclude')}: key 'exclude': must be a list of "
                            "mappings")
    for ex in excludes:
        if not isinstance(ex, dict) or not ex:
            raise CaseFileError(f"{path}:{getattr(ex, 'line', getattr(excludes, 'line', 0))}: key "
                                "'exclude': each entry must be a non-empty mapping")
        for k in ex:
            if k not in SCHEMA:
                raise CaseFileError(f"{_where(path, ex, k)}: key {_show(k)}: unknown parameter in "
                                    "exclude")
    total = 1
    for vals in values:
        total *= len(vals)
    if total > MAX_CASES:
        sizes = " x ".join(f"{a}({len(v)})" for a, v in zip(axes, values))
        raise CaseFileError(f"{_where(path, block, 'grid')}: key 'grid': {sizes} = {total:,} "
                            f"combinations, more than the {MAX_CASES:,} a block may expand to")
    hits = [0] * len(excludes)
    out = []
    for combo in itertools.product(*values):
        p = dict(zip(axes, combo))
        full = {**base, **p}
        matched = [all(full.get(k, None) in (v if isinstance(v, list) and k != "shape" else [v])
                       for k, v in ex.items()) for ex in excludes]
        for i, m in enumerate(matched):
            hits[i] += m
        if any(matched):
            continue
        out.append((p, _where(path, block, "grid")))
    for ex, n in zip(excludes, hits):
        if not n:  # a typo in a value, or a key the grid does not vary: it would exclude nothing
            raise CaseFileError(f"{_where(path, ex)}: key 'exclude': {_show(dict(ex))} matches no "
                                "combination of this grid (a misspelt value, or a parameter the "
                                "grid does not have?)")
    return out


def load_case_file(path: str | Path) -> list[Case]:
    """Load, validate and expand one case file into sorted, unique cases."""
    path = str(path)
    doc = load_yaml(path)
    if not isinstance(doc, dict):
        raise CaseFileError(f"{path}:{getattr(doc, 'line', 1)}: the file must be a mapping with "
                            "'blocks' (and optional 'defaults')")
    for key in doc:
        if key not in TOP_KEYS:
            raise CaseFileError(f"{_where(path, doc, key)}: key {_show(key)}: unknown top-level "
                                f"key (known: {', '.join(sorted(TOP_KEYS))})")
    if MARKER in doc and (doc[MARKER] != FORMAT_VERSION or isinstance(doc[MARKER], bool)):
        raise CaseFileError(f"{_where(path, doc, MARKER)}: key {MARKER!r}: the case-file format "
                            f"version, {FORMAT_VERSION} (got {_show(doc[MARKER])})")
    if "collect" in doc and doc["collect"] not in COLLECT:
        raise CaseFileError(f"{_where(path, doc, 'collect')}: key 'collect': one of "
                            f"{', '.join(COLLECT)} (got {_show(doc['collect'])})")
    defaults = doc.get("defaults") or _LineDict()
    _validate_params(path, defaults, where=f"{_where(path, doc, 'defaults')}: key 'defaults':")
    blocks = doc.get("blocks")
    if not isinstance(blocks, list) or not blocks:
        raise CaseFileError(f"{_where(path, doc, 'blocks')}: key 'blocks': must be a non-empty list")
    cases: dict[str, Case] = {}
    for block in blocks:
        if not isinstance(block, dict):
            raise CaseFileError(f"{path}:{getattr(blocks, 'line', 0)}: key 'blocks': each block must "
                                "be a mapping")
        for key in block:
            if key not in BLOCK_KEYS:
                raise CaseFileError(f"{_where(path, block, key)}: key {_show(key)}: unknown block "
                                    f"key (known: {', '.join(sorted(BLOCK_KEYS))})")
        if ("grid" in block) == ("cases" in block):
            raise CaseFileError(f"{_where(path, block)}: a block needs exactly one of 'grid' or "
                                "'cases'")
        if "cases" in block and "exclude" in block:
            raise CaseFileError(f"{_where(path, block, 'exclude')}: key 'exclude': only a 'grid' "
                                "block has exclusions (remove an explicit case by deleting it)")
        if "grid" in block:
            items = _expand_grid(path, block, {**DEFAULTS, **defaults})
            maps = [block["grid"], defaults, block]
        else:
            explicit = block["cases"]
            if not isinstance(explicit, list) or not explicit:
                raise CaseFileError(f"{_where(path, block, 'cases')}: key 'cases': must be a "
                                    "non-empty list of mappings")
            for c in explicit:
                _validate_params(path, c, keys_allowed=CASE_KEYS,
                                 where=f"{path}:{explicit.line}: key 'cases':")
            items = ((c, _where(path, c)) for c in explicit)
            maps = [defaults, block]
        for raw, where in items:
            given = {k: v for k, v in raw.items() if k not in CASE_KEYS}
            p = {**DEFAULTS, **defaults, **given}
            if p["defaults"]:  # what the case itself sets is passed; the rest is the API's
                p["explicit"] = sorted(k for k in API_ARGUMENTS if k in given)
            literal_id = _literal(path, raw, p) if "cases" in block else None
            if "shape" not in p:
                raise CaseFileError(f"{where}: key 'shape': missing (set it in the block or defaults)")
            p["shape"] = list(p["shape"])
            p["checks"] = [c for c in CHECKS if c in p["checks"]]
            if not _meaningful(p):
                if "cases" in block:  # written out by a person: never dropped without a word
                    raise CaseFileError(f"{where}: this case means nothing: {_why_not(p)}; "
                                        "remove it or change it")
                continue
            _check_case(path, ([raw] if "cases" in block else []) + maps, p)
            cid = literal_id or case_id(p)
            if cid in cases:
                raise CaseFileError(f"{where}: duplicate case ID {cid} (first defined at "
                                    f"{cases[cid].source})")
            cases[cid] = Case(cid, p, where)
    if not cases:
        raise CaseFileError(f"{path}:1: the grid is empty: no case survives the exclusions")
    return [cases[k] for k in sorted(cases)]


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    out: dict[str, Case] = {}
    for path in paths:
        for c in load_case_file(path):
            if c.id in out:
                raise CaseFileError(f"{c.source}: duplicate case ID {c.id} (first defined at "
                                    f"{out[c.id].source})")
            out[c.id] = c
    return [out[k] for k in sorted(out)]


def select(cases: list[Case], keyword: str | None = None, patterns: list[str] | None = None
           ) -> list[Case]:
    """Filter cases by glob patterns on the ID (``--cases``) and a pytest-style ``-k`` expression."""
    from harness.filters import keyword_matches

    out = cases
    if patterns:
        out = [c for c in out if any(fnmatch.fnmatchcase(c.id, pat) or pat in c.id
                                     for pat in patterns)]
    if keyword:
        out = [c for c in out if keyword_matches(keyword, c.id)]
    return out


def grid_hash(cases: list[Case]) -> str:
    """A grid's identity: its case IDs and parameters, in order (what shards and checkpoints
    check they belong to)."""
    h = hashlib.sha256()
    for c in cases:
        params = c.params
        data = params.get("data")
        if isinstance(data, dict) and "path" in data:  # a literal file: its name and digest,
            params = {**params, "data": {k: v for k, v in data.items() if k != "path"}}
        h.update(json.dumps([c.id, params], sort_keys=True).encode())  # not the checkout's place
    return h.hexdigest()[:16]
