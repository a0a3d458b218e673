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

The code that runs is generated per parameter set as plain straight-line JAX source; the adapter
executes exactly that text (jitted, cached per parameter set; jax caches per shape) and `snippet`
pastes the same text, so a reproducer is the adapter's computation verbatim.

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

import math

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   Output, Unsupported, keep_user_flags, squeeze_label)

DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html"
SRC = "https://github.com/google-deepmind/optax/blob/main/optax/losses/_classification.py"
ISSUE_NEG_INF = "https://github.com/google-deepmind/optax/issues/896"

_REDUCTIONS = ("none", "sum", "mean")
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


def _header(device: str) -> list[str]:
    platform = "cuda" if device in ("cuda", "gpu") else "cpu"
    return ["import numpy as np",
            "import jax",
            'jax.config.update("jax_enable_x64", True)',
            'jax.config.update("jax_default_matmul_precision", "highest")',
            f'jax.config.update("jax_platforms", "{platform}")',
            "import jax.numpy as jnp",
            "import optax"]


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
    bucketing = True  # see _bucket
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={"soft_label": NATIVE, "use_softmax": "unsupported: " + _USE_SOFTMAX_REASON,
                  "weight": COMPOSED, "ignore_index": COMPOSED, "label_smoothing": COMPOSED,
                  "axis": NATIVE, "reduction_none": NATIVE, "reduction_sum": COMPOSED,
                  "reduction_mean": COMPOSED},
        devices=("cpu", "cuda", "gpu"),
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
            upstream=ISSUE_NEG_INF),
    )

    @classmethod
    def worker_environment(cls, environ):
        return keep_user_flags(cls.environment, environ)

    @classmethod
    def lower_dispatch(cls, level):
        return {"XLA_FLAGS": f"--xla_cpu_max_isa={'AVX2' if level == 'avx2' else 'SSE4_2'}"}

    def dispatch(self):
        import os

        dev = self.jax.devices()[0]  # XLA's CPU backend picks its ISA itself (XLA_FLAGS caps it)
        return {"platform": dev.platform, "device_kind": dev.device_kind,
                "xla_flags": os.environ.get("XLA_FLAGS", "")}

    def setup(self):
        import importlib.metadata

        import jax

        platform = "cuda" if self.device in ("cuda", "gpu") else "cpu"
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_default_matmul_precision", "highest")
        jax.config.update("jax_platforms", platform)
        cache = _compilation_cache_dir()
        if cache:  # compiled executables persist: a second run of a grid compiles nothing
            jax.config.update("jax_compilation_cache_dir", cache)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        import jax.numpy as jnp
        import optax

        self.jax, self.jnp, self.optax = jax, jnp, optax
        self._fns: dict = {}
        dev = jax.devices()[0]
        return {"jax": jax.__version__, "jaxlib": importlib.metadata.version("jaxlib"),
                "optax": optax.__version__, "jax_enable_x64": True,
                "jax_default_matmul_precision": "highest", "jax_platforms": platform,
                "jit": True, "jax_compilation_cache": bool(cache),
                "shape_buckets": "reduction none: positions padded to a power of two",
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

    # -- the generated JAX source ----------------------------------------------------------------
    def _dense_loss(self, axis: int, nd: int, where: bool) -> str:
        if self.safe:
            a = axis % nd if nd else axis
            mx = "x" if a == nd - 1 else f"jnp.moveaxis(x, {axis}, -1)"
            mq = "q" if a == nd - 1 else f"jnp.moveaxis(q, {axis}, -1)"
            return f"optax.safe_softmax_cross_entropy({mx}, {mq})"
        return (f"optax.softmax_cross_entropy(x, q, axis={axis}"
                + (", where=valid)" if where else ")"))

    def source(self, params, check: str) -> str:
        """`def loss_fn(x, label, weight)` (and `vjp_fn` for a `none` gradient) for these params."""
        axis, shape, red = params["axis"], list(params["shape"]), params["reduction"]
        nd, e = len(shape), params["label_smoothing"]
        C = shape[axis]
        wshape = tuple(C if i == axis % nd else 1 for i in range(nd))
        weighted = bool(params["has_weight"])
        b = ["def loss_fn(x, label, weight):"]
        if params["label_kind"] == "soft":
            b.append("    q = label")
            if e > 0:
                b.append(f"    q = optax.smooth_labels(q, {e!r}, axis={axis})")
            b.append(f"    l = {self._dense_loss(axis, nd, where=False)}")
            if weighted:
                b.append(f"    w = jnp.sum(q * jnp.reshape(weight, {wshape}), axis={axis})")
            den = "jnp.sum(w)" if weighted else None
        else:
            b.append(f"    valid = label != {params['ignore_index']}")
            b.append("    y = jnp.where(valid, label, 0)")
            if e > 0:
                b.append(f"    q = jax.nn.one_hot(y, {C}, dtype=x.dtype, axis={axis})")
                b.append(f"    q = optax.smooth_labels(q, {e!r}, axis={axis})")
                if self.safe:
                    b.append(f"    l = jnp.where(valid, {self._dense_loss(axis, nd, False)}, 0)")
                else:
                    b.append(f"    l = {self._dense_loss(axis, nd, where=True)}")
                if weighted:
                    b.append(f"    w = jnp.where(valid, jnp.sum(q * jnp.reshape(weight, {wshape}), "
                             f"axis={axis}), 0)")
            else:
                b.append("    l = optax.softmax_cross_entropy_with_integer_labels("
                         f"x, y, axis={axis}, where=valid)")
                if weighted:
                    b.append("    w = jnp.where(valid, weight[y], 0)")
            den = "jnp.sum(w)" if weighted else "jnp.sum(valid)"
        lw = "l * w" if weighted else "l"
        if red == "none":
            b.append(f"    return {lw}")
        elif red == "sum":
            b.append(f"    return jnp.sum({lw})")
        else:
            b.append(f"    return jnp.sum({lw}) / {den}" if den else "    return jnp.mean(l)")
        if check == "grad" and red == "none":
            b += ["", "def vjp_fn(x, label, weight, g):",
                  "    _, pullback = jax.vjp(lambda x: loss_fn(x, label, weight), x)",
                  "    return pullback(g)[0]"]
        return "\n".join(b) + "\n"

    def _entry(self, params, check):
        return "vjp_fn" if check == "grad" and params["reduction"] == "none" else "loss_fn"

    def _function(self, params, check):
        src = self.source(params, check)
        key = (src, check)
        fn = self._fns.get(key)
        if fn is None:
            ns = {"jax": self.jax, "jnp": self.jnp, "optax": self.optax, "np": np}
            exec(compile(src, f"<optax_adapter {params.get('case_id', '')}>", "exec"), ns)
            f = ns[self._entry(params, check)]
            if check == "grad" and params["reduction"] != "none":
                f = self.jax.grad(f)
            if len(self._fns) >= 512:  # bound memory (and jax's per-function caches) on long grids
                self._fns.clear()
            fn = self._fns[key] = self.jax.jit(f)
        return fn

    # -- calls -------------------------------------------------------------------------------------
    def _args(self, inputs, params, check):
        jnp, dt = self.jnp, getattr(self.jnp, params["dtype"])
        x = jnp.asarray(inputs.x, dtype=dt)
        if params["label_kind"] == "soft":
            label = jnp.asarray(inputs.label, dtype=dt)
        else:
            label = jnp.asarray(squeeze_label(inputs.label, params))
        weight = None if inputs.weight is None else jnp.asarray(inputs.weight, dtype=dt)
        args = [x, label, weight]
        if check == "grad" and params["reduction"] == "none":
            args.append(jnp.asarray(inputs.grad_output, dtype=dt))
        return args

    @staticmethod
    def _bucket(params):
        """(axis, n, padded n) when this call's positions are padded to a bucket, else None.

        jit compiles once per input shape, and a grid of many shapes spends most of its optax time
        compiling. With reduction "none" every position's loss and gradient are computed from its
        own row alone, so the first non-class axis is padded to the next power of two (zero
        logits, label 0, cotangent 0) and the padded positions are dropped from the result: the
        shapes of a grid fall into a few buckets, and the values are those of the unpadded call
        bit for bit (tests/test_adapter_optax.py checks it). Reductions over positions are not
        bucketed: padding would change their summation order."""
        shape, axis = params["shape"], params["axis"] % max(len(params["shape"]), 1)
        if params["reduction"] != "none" or len(shape) < 2:
            return None
        d = 0 if axis != 0 else 1
        n = shape[d]
        padded = 8
        while padded < n:
            padded *= 2
        if not n or padded == n or math.prod(shape) // n * padded > (1 << 24):
            return None  # large inputs are not padded: up to twice the memory and the time
        return d, n, padded

    def _pad(self, a, dim, padded):
        width = [(0, 0)] * a.ndim
        width[dim] = (0, padded - a.shape[dim])
        return self.jnp.pad(a, width)

    def _run(self, inputs, params, check):
        self._check_weight(inputs, params)
        args = self._args(inputs, params, check)
        bucket = self._bucket(params) if self.bucketing else None
        if bucket is not None:
            d, n, padded = bucket
            axis = params["axis"] % len(params["shape"])
            pos_d = d if d < axis else d - 1  # the same axis in arrays without the class axis
            soft = params["label_kind"] == "soft"  # hard labels arrive without the class axis
            args[0] = self._pad(args[0], d, padded)
            args[1] = self._pad(args[1], d if soft else pos_d, padded)
            if len(args) > 3:
                args[3] = self._pad(args[3], pos_d, padded)
        out = self._function(params, check)(*args)
        if bucket is not None:
            out = self.jax.lax.slice_in_dim(out, 0, n, axis=d if check == "grad" else pos_d)
        name = out.dtype.name
        if name == "bfloat16":
            return Output(np.asarray(out.astype(self.jnp.float32)), "bfloat16")
        return Output(np.asarray(out), name)

    def forward(self, inputs, params):
        return self._run(inputs, params, "forward")

    def gradient(self, inputs, params):
        return self._run(inputs, params, "grad")

    def snippet(self, params, check):
        dt = params["dtype"]
        lines = _header(self.device) + ["", self.source(params, check).rstrip(), "",
                                        f"xj = jnp.asarray(x, dtype=jnp.{dt})"]
        if params["label_kind"] == "soft":
            lines.append(f"label_j = jnp.asarray(label, dtype=jnp.{dt})")
        elif params["label_kind"] == "hard-keepdim":
            lines.append(f"label_j = jnp.asarray(np.squeeze(label, axis={params['axis']}))")
        else:
            lines.append("label_j = jnp.asarray(label)")
        lines.append(f"wj = None if weight is None else jnp.asarray(weight, dtype=jnp.{dt})")
        to_np = ".astype(jnp.float32)" if dt == "bfloat16" else ""
        if check == "grad":
            if params["reduction"] == "none":
                lines.append("grad = jax.jit(vjp_fn)(xj, label_j, wj, "
                             f"jnp.asarray(g, dtype=jnp.{dt}))")
            else:
                lines.append("grad = jax.jit(jax.grad(loss_fn))(xj, label_j, wj)")
            lines.append(f"grad = np.asarray(grad{to_np})")
        else:
            lines.append(f"loss = np.asarray(jax.jit(loss_fn)(xj, label_j, wj){to_np})")
        return "\n".join(lines) + "\n"


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
    )
    conventions = ()

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params["label_kind"] != "soft" and params["label_smoothing"] == 0:
            reason = ("hard labels without smoothing have no dense target for "
                      "safe_softmax_cross_entropy; the 'optax' adapter measures them through "
                      "softmax_cross_entropy_with_integer_labels")
        return reason
