"""The adapter interface: what every framework adapter declares and does.

An adapter wraps one public cross-entropy API of one framework. It runs only inside a worker process
(`harness.worker`), imports its framework lazily in `setup()`, and exchanges plain numpy arrays with
the harness. What it can do is data (`Capabilities`); the conventions its framework documents are
data too (`DocumentedConvention`: a name the reference computes, its kind, convention, defect or
platform limit, and the evidence for it). An adapter never imports `reference`.

Arrays an adapter receives (`Inputs`):
- `x`: the input, in the case dtype's carrier (bfloat16 values arrive as float32 holding exact
  bfloat16 values; the adapter converts them to its framework's bfloat16 losslessly);
- `label`: int64 hard labels (with or without the size-1 class axis) or soft labels in the carrier;
- `weight`: class weights `[C]` in the carrier, or None;
- `grad_output`: the cotangent for reduction "none" (shape of the loss), or None.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import inspect
import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import numpy as np

FEATURES = ("soft_label", "use_softmax", "weight", "ignore_index", "label_smoothing", "axis",
            "reduction_none", "reduction_sum", "reduction_mean", "framework_probs")
NATIVE, COMPOSED = "native", "composed"


class Unsupported(Exception):
    """Raised by an adapter for a case its framework cannot express; the message is the reason."""


@dataclass(frozen=True)
class Capabilities:
    """What an adapter can run. `features` maps each of FEATURES to "native", "composed" or a
    string starting with "unsupported: " followed by the reason."""

    dtypes: tuple[str, ...]
    features: Mapping[str, str]
    label_kinds: tuple[str, ...] = ("hard", "hard-keepdim", "soft")
    gradient: bool = True
    devices: tuple[str, ...] = ("cpu",)
    dtype_notes: Mapping[str, str] = field(default_factory=dict)
    # the call styles (case axes `call` and `mode`): each "native", "composed" or
    # "unsupported: <why this framework has no such style>"
    calls: Mapping[str, str] = field(default_factory=lambda: {"functional": NATIVE})
    modes: Mapping[str, str] = field(default_factory=lambda: {"eager": NATIVE})

    def support(self, feature: str) -> str:
        return self.features.get(feature, "unsupported: not declared by the adapter")

    def to_json(self) -> dict:
        return {"dtypes": list(self.dtypes), "features": dict(self.features),
                "label_kinds": list(self.label_kinds), "gradient": self.gradient,
                "devices": list(self.devices), "dtype_notes": dict(self.dtype_notes),
                "calls": dict(self.calls), "modes": dict(self.modes)}


CONVENTION, DEFECT, PLATFORM_LIMIT = "convention", "defect", "platform-limit"
KINDS = (CONVENTION, DEFECT, PLATFORM_LIMIT)


@dataclass(frozen=True)
class DocumentedConvention:
    """A behaviour of this framework that departs from the canonical definition, under the name
    the reference computes it by (docs/semantics.md), with its kind and the evidence for it:

    - `convention`: the framework's API documentation states it. `quote` is the documentation's
      sentence, `link` the page of the pinned version.
    - `defect`: it contradicts the framework's own documentation, its other code paths or
      mathematics. `contradicts` says what contradicts what, `link` points at the code or page
      that shows it, `upstream` at the framework's issue or pull request where one exists.
    - `platform-limit`: the framework cannot do better on this platform (no kernel for a dtype).

    `scope` limits where the framework follows it: case parameters (and "check": forward or
    grad) to the values allowed ("leaves": a `defaults: true` case that does not set these
    arguments), `excludes` to values not allowed; outside it the name is neither
    tried nor held against the framework. One name may be declared twice with disjoint scopes
    (a convention where the docs state it, a defect where they say otherwise). A result the
    reference explains under a defect is `known-defect`, not `divergent`.

    `demo` is the evidence run: case parameters in the case language (defaults: shape [6, 5],
    float64, forward and grad; "checks" limits the checks that must show it) of a case on which
    the reference explains the framework's numbers by this name. `no_demo` says why no case can
    show it under the harness's settings. `harness.testing.check_adapter` runs every demo.

    `raises` makes it a refusal: on valid cases in its scope the framework raises an error whose
    `type: message` matches this regular expression (an argument the API does not take, a label
    shape it does not accept), and that error is judged as the declared behaviour. A refusal's
    name is the harness's unless the reference computes it too (an API default whose values the
    reference gives where the call succeeds, and whose inputs it refuses elsewhere)."""

    name: str
    link: str
    note: str = ""
    kind: str = CONVENTION
    quote: str = ""
    contradicts: str = ""
    upstream: str = ""
    scope: Mapping[str, tuple] = field(default_factory=dict)
    excludes: Mapping[str, tuple] = field(default_factory=dict)
    demo: Mapping[str, Any] = field(default_factory=dict)
    no_demo: str = ""
    raises: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"declaration {self.name!r}: kind {self.kind!r} is not one of "
                             f"{', '.join(KINDS)}")
        if self.kind == CONVENTION and not self.quote:
            raise ValueError(f"declaration {self.name!r}: a convention quotes the documentation "
                             "that states it (quote=...)")
        if self.kind == DEFECT and not self.contradicts:
            raise ValueError(f"declaration {self.name!r}: a defect says what contradicts what "
                             "(contradicts=...)")
        if self.raises:
            import re

            re.compile(self.raises)  # a typo in the pattern fails at import, not in a run
        for key, values in {**self.scope, **self.excludes}.items():
            if not isinstance(values, (tuple, list)) or not values:
                raise ValueError(f"declaration {self.name!r}: scope {key!r} must list the values "
                                 "allowed")

    def in_scope(self, params: Mapping[str, Any], check: str) -> bool:
        """Whether a case (its parameters) and check fall inside the declared scope."""
        return in_scope(self.to_json(), params, check)

    def to_json(self) -> dict:
        out = {"name": self.name, "link": self.link, "note": self.note, "kind": self.kind}
        for key in ("quote", "contradicts", "upstream", "raises"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.scope:
            out["scope"] = {k: list(v) for k, v in self.scope.items()}
        if self.excludes:
            out["excludes"] = {k: list(v) for k, v in self.excludes.items()}
        return out


Declaration = DocumentedConvention  # what it is: a declared behaviour, of any kind


def in_scope(declaration: Mapping[str, Any], params: Mapping[str, Any], check: str) -> bool:
    """Whether a declaration, in its JSON form (what a worker reports), covers a case and check:
    each key of its `scope` ("check" or a case parameter) lists the values it allows, of
    `excludes` those it does not."""
    def value(key):
        return check if key == "check" else params.get(key)

    def holds(key, allowed):
        if key == "leaves":  # a case with `defaults: true` that leaves these arguments to the API
            return bool(params.get("defaults")) and not set(allowed) & set(
                params.get("explicit") or ())
        return value(key) in allowed

    return (all(holds(k, allowed) for k, allowed in (declaration.get("scope") or {}).items())
            and not any(value(k) in barred
                        for k, barred in (declaration.get("excludes") or {}).items()))


@dataclass
class Inputs:
    x: np.ndarray
    label: np.ndarray
    weight: np.ndarray | None = None
    grad_output: np.ndarray | None = None


@dataclass
class Output:
    """A framework result as numpy, with the name of the dtype the framework returned."""

    values: np.ndarray
    dtype: str


class Adapter:
    """Base class: subclasses set the class attributes and implement setup/forward/gradient/snippet."""

    name: ClassVar[str]
    module: ClassVar[str]  # top-level module to import; also tells whether it is installed
    distribution: ClassVar[str]  # the pip distribution whose version is reported
    api: ClassVar[str]  # the public API called, as a user would write it
    capabilities: ClassVar[Capabilities]
    conventions: ClassVar[tuple[DocumentedConvention, ...]] = ()
    # Peak memory of one call besides the input (which the worker maps from the page cache), in
    # multiples of the input's size in the case dtype: the framework's own temporaries (a
    # log-softmax, its gradient, the input's gradient, a cast copy). Checked against MemAvailable
    # before large calls, so a case that cannot fit is `unsupported` with the figures instead of a
    # worker killed mid-call.
    memory_factors: ClassVar[Mapping[str, float]] = {"forward": 3.0, "grad": 5.0}
    # Everything else the harness needs to know of a framework is here too, so that adding one
    # is one adapter file (tests/test_boundaries.py greps the core for framework names):
    extra: ClassVar[str] = ""  # the pip extra that installs it: pip install 'xent-parity[extra]'
    requires: ClassVar[tuple[str, ...]] = ()  # top-level modules it imports (default: `module`)
    # variables its worker process starts with (threads, log noise, kernel choices): set by the
    # parent before the framework is imported (`worker_environment`)
    environment: ClassVar[Mapping[str, str]] = {}
    # variables that change which CPU kernels it dispatches to (recorded in results)
    dispatch_variables: ClassVar[tuple[str, ...]] = ()
    position: ClassVar[int] = 100  # where a built-in adapter is listed (and run) by default

    def __init__(self, device: str = "cpu"):
        self.device = device

    # -- discovery (runs in the parent too: no framework import) -------------------------------
    @classmethod
    def installed(cls) -> str | None:
        """None when the framework can be imported, else the reason it cannot."""
        for mod in cls.requires or (cls.module,):
            if importlib.util.find_spec(mod) is None:
                hint = f" (pip install 'xent-parity[{cls.extra}]')" if cls.extra else ""
                return f"{mod} is not installed{hint}"
        return None

    @classmethod
    def worker_environment(cls, environ: Mapping[str, str]) -> dict[str, str]:
        """The variables to set in this adapter's worker, given the parent's `environ`
        (`environment`; an adapter whose variable holds a list of flags keeps the user's)."""
        return dict(cls.environment)

    @classmethod
    def lower_dispatch(cls, level: str) -> dict[str, str]:
        """Variables that make the framework dispatch as a lesser CPU would: `level` "avx2" (an
        AVX-512 machine run as one with AVX2 only) or "baseline" (no AVX2 kernels). What the
        portability check runs under (harness.cpu.lower_dispatch_env)."""
        return {}

    @classmethod
    def version(cls) -> str:
        try:
            return importlib.metadata.version(cls.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    # -- in the worker ---------------------------------------------------------------------------
    def setup(self) -> dict[str, Any]:
        """Import the framework and pin its numerics; return the flags set (recorded in results)."""
        return {}

    def dispatch(self) -> dict[str, Any]:
        """After `setup`: which CPU kernels the framework dispatches to (its CPU capability, the
        ISA of oneDNN or XLA), as the framework reports it; recorded in results, never judged."""
        return {}

    def unsupported_reason(self, params: Mapping[str, Any]) -> str | None:
        """Why this adapter cannot run `params` (None when it can). Data-driven from capabilities;
        adapters extend it for combinations their framework cannot express."""
        caps = self.capabilities
        if accelerator(self.device) not in {accelerator(d) for d in caps.devices}:
            return f"device {self.device!r} not supported (devices: {', '.join(caps.devices)})"
        if params["dtype"] not in caps.dtypes:
            note = caps.dtype_notes.get(params["dtype"], "")
            return f"dtype {params['dtype']} not supported by {self.api}" + (f": {note}" if note else "")
        if params["label_kind"] not in caps.label_kinds:
            return f"label kind {params['label_kind']!r} not supported by {self.api}"
        for axis, styles in (("call", caps.calls), ("mode", caps.modes)):
            style = params.get(axis, CALL_DEFAULTS[axis])
            s = styles.get(style, "unsupported: not declared by the adapter")
            if s.startswith("unsupported"):
                return f"{axis} {style}: {s.partition(': ')[2] or s}"
        for feature, used in _features_used(params).items():
            s = caps.support(feature)
            if used and s.startswith("unsupported"):
                return f"{feature}: {s.partition(': ')[2] or s}"
        return None

    def memory_need(self, params: Mapping[str, Any], check: str) -> int:
        """Estimated peak bytes of one call (see `memory_factors`)."""
        itemsize = {"float16": 2, "bfloat16": 2, "float32": 4}.get(params["dtype"], 8)
        return int(self.memory_factors.get(check, 5.0) * math.prod(params["shape"]) * itemsize)

    def memory_reason(self, params: Mapping[str, Any], check: str,
                      available: int | None = None) -> str | None:
        """Why this call would not fit in `available` bytes (default: MemAvailable, read only for
        a large call); None when it would, or when the call is small."""
        if check == "grad" and not self.capabilities.gradient:
            return None  # the call itself says it has no gradient
        need = self.memory_need(params, check)
        if need < LARGE_CALL_BYTES:
            return None
        if available is None:
            available = available_memory()
        if not available or need <= available:
            return None
        factor = self.memory_factors.get(check, 5.0)
        return (f"needs about {need / 2**30:.1f} GiB for the {check} ({factor:g} x the "
                f"{params['dtype']} input {list(params['shape'])}: {self.name}'s temporaries), "
                f"more than the {available / 2**30:.1f} GiB available; not run, rather than "
                "risk the worker being killed mid-call")

    # -- the call: plain Python, run as it is and rendered as it is -----------------------------
    # `program` holds plain module-level functions. The first is the entry point,
    #     entry(x, label, weight, g, **self.arguments(params, check)) -> (values, dtype name),
    # which calls the framework the way a user does and returns its result as numpy with the name
    # of the dtype the framework returned; the others are functions it calls (an import and pin
    # function, a conversion). The worker calls the entry; the reproducer is their source
    # (`inspect`) followed by the same call with the same literal arguments, so the bug-report
    # script is the code that ran. No source is generated or executed.
    program: ClassVar[tuple[Callable, ...]] = ()

    def arguments(self, params: Mapping[str, Any], check: str) -> dict[str, Any]:
        """The entry point's keyword arguments for a case and check: literals only (str, int,
        float, bool, None, tuples and lists of them), so that the reproducer can spell them."""
        raise NotImplementedError(f"{type(self).__name__} has a program but no arguments()")

    def preamble(self) -> tuple[Callable, dict[str, Any]] | None:
        """A program function the reproducer calls once before the entry point, with its keyword
        arguments (the imports and numerical pins `setup` makes), or None."""
        return None

    def call(self, inputs: Inputs, params: Mapping[str, Any], check: str) -> Output:
        """Run the entry point on a case's arrays (what `forward` and `gradient` do by default)."""
        values, dtype = self.program[0](inputs.x, inputs.label, inputs.weight, inputs.grad_output,
                                        **self.arguments(params, check))
        return Output(values, dtype)

    def forward(self, inputs: Inputs, params: Mapping[str, Any]) -> Output | np.ndarray:
        if not self.program:
            raise NotImplementedError
        return self.call(inputs, params, "forward")

    def gradient(self, inputs: Inputs, params: Mapping[str, Any]) -> Output | np.ndarray:
        if not self.program or not self.capabilities.gradient:
            raise Unsupported(f"{self.name} has no gradient")
        return self.call(inputs, params, "grad")

    def snippet(self, params: Mapping[str, Any], check: str) -> str:
        """Python source that calls the framework on arrays `x`, `label`, `weight`, `g` already
        defined (numpy), and leaves the result as numpy in `loss` (check "forward") or `grad`:
        the program's functions and the call the worker makes."""
        if not self.program:
            raise NotImplementedError
        return render_call(self.program, self.arguments(params, check),
                           "grad" if check == "grad" else "loss", self.preamble())

    @classmethod
    def describe(cls) -> dict:
        return {"name": cls.name, "api": cls.api, "distribution": cls.distribution,
                "capabilities": cls.capabilities.to_json(),
                "conventions": [c.to_json() for c in cls.conventions]}


CALL_DEFAULTS = {"call": "functional", "mode": "eager"}


def passed(params: Mapping[str, Any], names: Mapping[str, str]) -> tuple[str, ...] | None:
    """Which API arguments a case with `defaults: true` passes: `names` maps the case's keys
    (axis, dtype, reduction, ignore_index, smoothing) to the API's argument names; those the case
    sets are passed (and a weight, when it has one), the rest left to the API. None: the case
    passes every argument (the usual, fully specified call)."""
    if not params.get("defaults"):
        return None
    set_ = set(params.get("explicit", ()))
    out = [api for key, api in names.items() if key in set_]
    if params.get("has_weight") and "weight" in names:
        out.append(names["weight"])
    return tuple(dict.fromkeys(out))


def _features_used(params: Mapping[str, Any]) -> dict[str, bool]:
    return {
        "soft_label": params["label_kind"] == "soft",
        "use_softmax": not params["use_softmax"],
        "weight": bool(params.get("has_weight")),
        "ignore_index": params["label_kind"] != "soft" and bool(params.get("uses_ignore")),
        "label_smoothing": params["label_smoothing"] > 0,
        "axis": params["axis"] not in (-1, len(params["shape"]) - 1),
        "reduction_none": params["reduction"] == "none",
        "reduction_sum": params["reduction"] == "sum",
        "reduction_mean": params["reduction"] == "mean",
        "framework_probs": bool(params.get("probs_from_logits")),
    }


LARGE_CALL_BYTES = 256 << 20  # a call whose declared temporaries reach this is checked first


def available_memory() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (None where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def accelerator(device: str) -> str:
    """'cuda' and 'gpu' name the same thing: each framework's accelerator."""
    return "gpu" if device in ("cuda", "gpu") else device


def keep_user_flags(env: Mapping[str, str], environ: Mapping[str, str],
                    key: str) -> dict[str, str]:
    """`env` with the user's own value of a flags variable after the adapter's (a later flag wins),
    so that a flag the user sets (an ISA cap, say) still reaches the framework."""
    env = dict(env)
    if environ.get(key) and key in env:
        env[key] = f"{env[key]} {environ[key]}"
    return env


def literal(value: Any) -> str:
    """`value` as Python source, for the literals `arguments` may hold (a float in the repr that
    reads back as the same float; inf and NaN through float())."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    if isinstance(value, (tuple, list)):
        items = ", ".join(literal(v) for v in value)
        return f"({items},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({items})" if isinstance(value, tuple) else f"[{items}]")
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"argument {value!r} of type {type(value).__name__} is not a literal")


def render_call(program: tuple[Callable, ...], arguments: Mapping[str, Any], var: str,
                preamble: tuple[Callable, Mapping[str, Any]] | None = None) -> str:
    """The source of `program`'s functions, then `var, dtype = entry(x, label, weight, g, ...)`
    with `arguments` spelt as literals (and the preamble's call before it)."""
    functions = list(reversed(program))
    if preamble is not None and preamble[0] not in functions:
        functions.insert(0, preamble[0])
    parts = [textwrap.dedent(inspect.getsource(f)).rstrip() for f in functions]
    call = ", ".join(["x", "label", "weight", "g"]
                     + [f"{k}={literal(v)}" for k, v in arguments.items()])
    lines = ["\n\n".join(parts), ""]
    if preamble is not None:
        fn, kw = preamble
        lines.append(f"{fn.__name__}({', '.join(f'{k}={literal(v)}' for k, v in kw.items())})")
    lines.append(f"{var}, dtype = {program[0].__name__}({call})")
    return "\n".join(lines) + "\n"
