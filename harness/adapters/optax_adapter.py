"""optax (on jax): `optax.softmax_cross_entropy_with_integer_labels` and
`optax.softmax_cross_entropy`, gradients by `jax.grad` / `jax.vjp`.

optax's losses return one value per position and take logits only. Everything else SPEC asks for is
composed here the way JAX users write it, and declared `composed`:
- ignore_index: `valid = label != ignore_index`, the labels of ignored positions replaced by 0
  (`jnp.where`), and optax's own `where=valid` position mask, which zeroes the loss there;
- class weights: hard labels `w_j = where(valid, weight[y_j], 0)`; soft (and smoothed) labels the
  sample weight `w_j = sum_c weight_c q_jc` (SPEC's canonical choice), multiplied into the loss;
- reductions: `sum` is `jnp.sum(l * w)`; `mean` is `jnp.sum(l * w) / jnp.sum(w)` (the weighted mean,
  `jnp.sum(l) / jnp.sum(valid)` without weights, `jnp.mean(l)` for soft labels without weights).
  Common practice divides by the plain sum, so a mean with nothing left (all ignored, zero total
  weight, empty input) is 0/0 = NaN, as SPEC's canonical rule;
- label smoothing: `optax.smooth_labels(one_hot(y), e)` (or of the soft labels), then the dense
  loss.

The call is plain JAX (`optax_cross_entropy`, `optax_value`, `optax_loss`), jitted with the case's
parameters static (jax caches per parameter set and shape), and the reproducer is that source, so
a reproducer is the adapter's computation verbatim.

Two adapters live here: `optax` (soft labels through `optax.softmax_cross_entropy`, which evaluates
`q * log_softmax` literally: a `-inf` logit where `q = 0` gives NaN) and `optax.safe` (soft and
smoothed labels through `optax.safe_softmax_cross_entropy`, which takes `0 * log 0 = 0`; it has no
`axis` argument, so the class axis is moved last). Hard labels without smoothing go through the
integer-label API in `optax` only.

Invalid input is not validated here: out-of-range labels give a silent NaN (`>= C`, `< -C`) or wrap
(`-C..-1`), as jax gathers do (optax#1185). Only what the composition itself would have to invent
is declared unsupported: a reduction name (optax has no `reduction`), a weight that is not `[C]`
(optax has no class weights), and `ignore_index > 0` with soft labels (optax has no `ignore_index`).
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   Unsupported, keep_user_flags, passed)

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html"
SRC = "https://github.com/google-deepmind/optax/blob/main/optax/losses/_classification.py"
ISSUE_NEG_INF = "https://github.com/google-deepmind/optax/issues/896"

_REDUCTIONS = ("none", "sum", "mean")
# the case's keys -> what optax (and its composition) takes; `defaults: true` leaves the others
OPTAX_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_index",
                   "weight": "weight"}
_USE_SOFTMAX_REASON = ("optax's cross-entropy losses take logits only (they apply log_softmax); "
                       "optax has no probability-input cross entropy")


def _compilation_cache_dir() -> str | None:
    """Where jax keeps compiled executables across runs: $XENT_PARITY_JAX_CACHE, else
    ~/.cache/xent-parity/jax; "0" (or a directory that cannot be made) turns it off. jit caches
    per shape within a run; this cache makes a repeated run (CI, a gate) skip XLA compilation,
    which is most of optax's time on a grid of many small shapes. An executable loaded from the
    cache is the one XLA compiled, so results do not depend on it."""
    import os

    path = os.environ.get("XENT_PARITY_JAX_CACHE")
    if path == "0":
        return None
    path = path or os.path.join(os.path.expanduser("~"), ".cache", "xent-parity", "jax")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path


def optax_setup(platform="cpu"):
    """jax as the comparison needs it: float64 enabled, matmuls at full precision, the platform."""
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    jax.config.update("jax_platforms", platform)


def optax_loss(x, label, weight, *, safe, soft_label, axis, label_smoothing, ignore_index,
               reduction):
    """The loss of one case in JAX: optax's per-position loss, ignore_index, class weights,
    smoothing and the reduction composed as JAX users write them. `axis` None: optax's default
    (the last); `ignore_index` None: nothing ignored; `reduction` None: per position."""
    import jax
    import jax.numpy as jnp
    import optax

    nd, e = x.ndim, label_smoothing
    along = {} if axis is None else {"axis": axis}
    axis = -1 if axis is None else axis
    C = x.shape[axis]
    wshape = tuple(C if i == axis % nd else 1 for i in range(nd))

    def dense(q, where=None):
        if safe:  # safe_softmax_cross_entropy has no axis argument: the class axis goes last
            last = (axis % nd if nd else axis) == nd - 1
            return optax.safe_softmax_cross_entropy(x if last else jnp.moveaxis(x, axis, -1),
                                                    q if last else jnp.moveaxis(q, axis, -1))
        if where is None:
            return optax.softmax_cross_entropy(x, q, **along)
        return optax.softmax_cross_entropy(x, q, **along, where=where)

    if soft_label:
        q = label
        if e > 0:
            q = optax.smooth_labels(q, e, **along)
        l = dense(q)
        if weight is not None:
            w = jnp.sum(q * jnp.reshape(weight, wshape), axis=axis)
    else:
        valid = None if ignore_index is None else label != ignore_index
        y = label if valid is None else jnp.where(valid, label, 0)
        if e > 0:
            q = jax.nn.one_hot(y, C, dtype=x.dtype, axis=axis)
            q = optax.smooth_labels(q, e, **along)
            l = dense(q) if valid is None else (
                jnp.where(valid, dense(q), 0) if safe else dense(q, where=valid))
            if weight is not None:
                w = jnp.sum(q * jnp.reshape(weight, wshape), axis=axis)
                w = w if valid is None else jnp.where(valid, w, 0)
        else:
            where = {} if valid is None else {"where": valid}
            l = optax.softmax_cross_entropy_with_integer_labels(x, y, **along, **where)
            if weight is not None:
                w = weight[y] if valid is None else jnp.where(valid, weight[y], 0)
    if reduction in ("none", None):
        return l if weight is None else l * w
    if reduction == "sum":
        return jnp.sum(l if weight is None else l * w)
    if weight is not None:
        return jnp.sum(l * w) / jnp.sum(w)
    if soft_label or valid is None:
        return jnp.mean(l)
    return jnp.mean(l, where=valid)  # optax's own position mask, as its losses take it


def optax_value(x, label, weight, g, *, want_grad, **loss):
    """The loss, or its gradient by jax.grad (jax.vjp with the cotangent `g` of an unreduced
    loss)."""
    import jax

    if not want_grad:
        return optax_loss(x, label, weight, **loss)
    if g is None:
        return jax.grad(lambda x: optax_loss(x, label, weight, **loss))(x)
    _, pullback = jax.vjp(lambda x: optax_loss(x, label, weight, **loss), x)
    return pullback(g)[0]


def optax_cross_entropy(x, label, weight=None, g=None, *, dtype, want_grad, mode="eager",
                        **loss):
    """One case through optax, op by op (mode "eager") or under jax.jit (mode "compiled", the
    case's parameters static); labels as given; numpy out, with jax's dtype name."""
    import jax
    import jax.numpy as jnp

    dt = getattr(jnp, dtype)
    xj = jnp.asarray(x, dtype=dt)
    label_j = jnp.asarray(label, dtype=dt) if loss["soft_label"] else jnp.asarray(label)
    wj = None if weight is None else jnp.asarray(weight, dtype=dt)
    gj = None if g is None else jnp.asarray(g, dtype=dt)
    fn = (jax.jit(optax_value, static_argnames=("want_grad", *loss)) if mode == "compiled"
          else optax_value)
    out = fn(xj, label_j, wj, gj, want_grad=want_grad, **loss)
    name = out.dtype.name
    return np.asarray(out.astype(jnp.float32) if name == "bfloat16" else out), name


# how optax is called (shared by both adapters): labels as the integer-label API takes them, and
# optax's lack of a reduction
CALL_DECLARATIONS = (
    DocumentedConvention(
        "unreduced-by-default", DOCS,
        "optax's losses have no reduction: a call that does not reduce gets the per-position "
        "losses, and jax.grad of them is refused (jax differentiates scalar functions)",
        quote=("Returns: Cross-entropy between each prediction and the corresponding target "
               "distributions, with shape [batch_size]."),
        raises=r"Gradient only defined for scalar-output functions",
        scope={"leaves": ("reduction",)},
        demo={"defaults": True, "label": "soft", "checks": ["forward"]}),
)


class OptaxAdapter(Adapter):
    name = "optax"
    module = "optax"
    distribution = "optax"
    extra = "jax"
    requires = ("jax", "optax")
    position = 50
    # XLA's CPU backend on one thread (its thread count changes reduction order)
    environment = {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
    dispatch_variables = ("XLA_FLAGS",)
    api = ("optax.softmax_cross_entropy_with_integer_labels (hard labels) / "
           "optax.softmax_cross_entropy (soft and smoothed labels)")
    safe = False  # True: dense targets go through optax.safe_softmax_cross_entropy
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={"soft_label": NATIVE, "use_softmax": "unsupported: " + _USE_SOFTMAX_REASON,
                  "weight": COMPOSED, "ignore_index": COMPOSED, "label_smoothing": COMPOSED,
                  "axis": NATIVE, "reduction_none": NATIVE, "reduction_sum": COMPOSED,
                  "reduction_mean": COMPOSED},
        devices=("cpu", "cuda", "gpu"),
        calls={"functional": NATIVE,
               "module": "unsupported: optax's losses are functions; it has no loss classes"},
        modes={"eager": NATIVE, "compiled": NATIVE},  # op by op, or jax.jit
    )
    conventions = (
        DocumentedConvention(
            "zero-q-neg-inf-nan", f"{DOCS}#optax.losses.safe_softmax_cross_entropy",
            "softmax_cross_entropy evaluates -sum(labels * log_softmax(logits)) literally, so a "
            "-inf logit where the target is 0 gives 0 * -inf = NaN",
            quote=("optax.losses.safe_softmax_cross_entropy provides an alternative "
                   "implementation that differs on how logits=-inf are handled ... Contrarily "
                   "to optax.softmax_cross_entropy this function handles labels*logsoftmax"
                   "(logits) as 0 when logits=-inf and labels=0, following the convention "
                   "that 0 log 0 = 0"),
            upstream=ISSUE_NEG_INF,
            demo={"label": "soft", "dist": "neginf", "shape": [2, 32000], "dtype": "float16",
                  "reduction": "none", "checks": ["forward"]}),
        DocumentedConvention(
            "labels-without-class-axis", DOCS,
            "integer labels have the logits' shape without the class axis: labels that keep a "
            "size-1 class axis are refused (by jnp.take_along_axis)",
            quote=("labels: Integers specifying the correct class for each input, with shape "
                   "[batch_size]. Class labels are assumed to be between 0 and num_classes - 1 "
                   "inclusive."),
            raises=r"indices and arr must have the same number of dimensions",
            scope={"label": ("hard-keepdim",)},
            demo={"label": "hard-keepdim", "reduction": "mean"}),
        *CALL_DECLARATIONS,
    )

    @classmethod
    def worker_environment(cls, environ):
        return keep_user_flags(cls.environment, environ, "XLA_FLAGS")

    @classmethod
    def lower_dispatch(cls, level):
        return {"XLA_FLAGS": f"--xla_cpu_max_isa={'AVX2' if level == 'avx2' else 'SSE4_2'}"}

    def dispatch(self):
        import os

        import jax

        dev = jax.devices()[0]  # XLA's CPU backend picks its ISA itself (XLA_FLAGS caps it)
        return {"platform": dev.platform, "device_kind": dev.device_kind,
                "xla_flags": os.environ.get("XLA_FLAGS", "")}

    @property
    def platform(self):
        return "cuda" if self.device in ("cuda", "gpu") else "cpu"

    def setup(self):
        import importlib.metadata

        optax_setup(self.platform)
        import jax
        import optax

        cache = _compilation_cache_dir()
        if cache:  # compiled executables persist: a second run of a grid compiles nothing
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        dev = jax.devices()[0]
        return {"jax": jax.__version__, "jaxlib": importlib.metadata.version("jaxlib"),
                "optax": optax.__version__, "jax_enable_x64": True,
                "jax_default_matmul_precision": "highest", "jax_platforms": self.platform,
                "jit": True, "jax_compilation_cache": bool(cache),
                "device": f"{dev.platform}:{dev.id}"}

    # -- what this adapter cannot express -------------------------------------------------------
    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is not None:
            return reason
        if params["reduction"] not in _REDUCTIONS:
            return (f"reduction {params['reduction']!r}: optax has no reduction argument (its "
                    "losses return per-position values); reductions are composed by the adapter, "
                    "so an unknown name has nothing in optax to accept or reject it")
        if params["label_kind"] == "soft" and params["ignore_index"] > 0:
            return ("ignore_index with soft labels: optax has no ignore_index; it is composed by "
                    "the adapter for hard labels only, so there is nothing in optax to reject it")
        return None

    def _check_weight(self, inputs, params):
        if inputs.weight is not None:
            C = params["shape"][params["axis"]]
            if tuple(inputs.weight.shape) != (C,):
                raise Unsupported(
                    f"weight of shape {list(inputs.weight.shape)} for C={C}: optax has no "
                    "class weights; they are composed by the adapter (weight[y], "
                    "sum_c weight_c q_c), so a wrong shape would test that composition, not optax")

    # -- the call -----------------------------------------------------------------------------
    program = (optax_cross_entropy, optax_value, optax_loss)

    def preamble(self):
        return optax_setup, {"platform": self.platform}

    def arguments(self, params, check):
        given = passed(params, OPTAX_ARGUMENTS)

        def arg(key, value):  # what the case leaves to optax: its default (None here)
            return value if given is None or OPTAX_ARGUMENTS[key] in given else None

        return {"dtype": params["dtype"], "want_grad": check == "grad",
                "mode": params.get("mode", "eager"), "safe": self.safe,
                "soft_label": params["label_kind"] == "soft", "axis": arg("axis", params["axis"]),
                "label_smoothing": params["label_smoothing"],
                "ignore_index": arg("ignore_index", params["ignore_index"]),
                "reduction": arg("reduction", params["reduction"])}

    def call(self, inputs, params, check):
        self._check_weight(inputs, params)
        return super().call(inputs, params, check)


class OptaxSafeAdapter(OptaxAdapter):
    """`optax.safe_softmax_cross_entropy` for every dense target (soft labels, smoothed labels).

    It takes `0 * log 0 = 0` (a `-inf` logit where the target is 0 contributes nothing), SPEC's
    canonical value. Hard labels without smoothing have no dense target and are measured by the
    `optax` adapter through the integer-label API."""

    name = "optax.safe"
    position = 51
    api = "optax.safe_softmax_cross_entropy (soft and smoothed labels)"
    safe = True
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={"soft_label": NATIVE, "use_softmax": "unsupported: " + _USE_SOFTMAX_REASON,
                  "weight": COMPOSED, "ignore_index": COMPOSED, "label_smoothing": COMPOSED,
                  "axis": COMPOSED, "reduction_none": NATIVE, "reduction_sum": COMPOSED,
                  "reduction_mean": COMPOSED},
        devices=("cpu", "cuda", "gpu"),
        calls={"functional": NATIVE,
               "module": "unsupported: optax's losses are functions; it has no loss classes"},
        modes={"eager": NATIVE, "compiled": NATIVE},  # op by op, or jax.jit
    )
    conventions = CALL_DECLARATIONS

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params["label_kind"] != "soft" and params["label_smoothing"] == 0:
            reason = ("hard labels without smoothing have no dense target for "
                      "safe_softmax_cross_entropy; the 'optax' adapter measures them through "
                      "softmax_cross_entropy_with_integer_labels")
        return reason
