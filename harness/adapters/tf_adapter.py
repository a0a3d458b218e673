"""tf.nn: `tf.nn.sparse_softmax_cross_entropy_with_logits` (hard labels) and
`tf.nn.softmax_cross_entropy_with_logits` (soft labels), gradients by `tf.GradientTape`.

Both ops return per-position losses of logits only. Everything else SPEC asks for is composed the
way TensorFlow users write it, and declared `composed`:
- class axis (sparse op): `tf.transpose` the class axis to the end (the dense op has `axis=`);
- ignore_index: `valid = y != ignore_index`, labels replaced by 0 with `tf.where` before the op
  (raw ignore labels make the sparse op raise), the loss masked with `tf.where`;
- class weights: per-position weight `w[y]` (`tf.gather`) for hard labels, the sample weight
  `sum_c w_c q_c` for soft or smoothed labels (the canonical rule);
- reductions: `tf.reduce_sum`; mean = `reduce_sum(loss) / reduce_sum(weights)` with a plain
  division (the textbook composition, e.g. `tf.reduce_sum(loss * w) / tf.reduce_sum(w)`), so an
  empty or all-ignored mean is 0/0 = NaN as canonical; soft labels without weights use
  `tf.reduce_mean`. (`tf.math.divide_no_nan`, which `tf.compat.v1.losses` and keras use, would
  give 0 there; it is not used so that the composition adds no convention of its own.)
- label smoothing: `q = (1 - e) q + e / C`; hard labels go through `tf.one_hot` and the dense op.

Probability input (`use_softmax=False`) is unsupported: both ops take logits only.

The call is plain Python (`tf_nn_cross_entropy` and the functions it calls), and the reproducer is
that source, so a bug-report snippet is exactly the adapter's call.

Numerics: one intra-op and one inter-op thread, TF32 off, and `enable_op_determinism()`. Determinism
is not neutral here: with it, TF swaps the fused kernels for `log_softmax` + gather/reduce_sum
(nn_ops.py), which gives the analytic gradient for unnormalised soft labels and checks labels via
`GatherV2`. Set XENT_PARITY_TF_DETERMINISM=0 to test the fused kernels instead (recorded in flags).
"""

from __future__ import annotations

import os


from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   keep_user_flags, passed)

DENSE_DOC = "https://www.tensorflow.org/api_docs/python/tf/nn/softmax_cross_entropy_with_logits"
SPARSE_DOC = ("https://www.tensorflow.org/api_docs/python/tf/nn/"
              "sparse_softmax_cross_entropy_with_logits")

DETERMINISM_ENV = "XENT_PARITY_TF_DETERMINISM"
# the case's keys -> what tf.nn's composition takes (what `defaults: true` keeps when the case
# sets it; the rest is left to the ops: last axis, no ignore, per-position losses)
TF_NN_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_index",
                   "weight": "weight"}


def op_determinism() -> bool:
    """Whether the TF adapters enable op determinism (default yes; XENT_PARITY_TF_DETERMINISM=0)."""
    return os.environ.get(DETERMINISM_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


# Invalid inputs that concern a parameter TensorFlow does not have: the adapter composes it, so
# the case would test the composition, not the framework (research table: "n/a (composed)").
COMPOSED_INVALID = {
    "bad-reduction": "tf.nn has no reduction argument (the adapter composes reductions)",
    "weight-shape": "tf.nn has no class-weight argument (the adapter composes weights)",
    "soft-ignore-positive": "tf.nn has no ignore_index (soft labels ignore nothing)",
}


# What a TensorFlow worker (tf.nn, keras) starts with: one thread (thread counts change the
# reduction order), C++ log noise off, oneDNN's fused CPU kernels off (TF_ENABLE_ONEDNN_OPTS=0:
# the Eigen kernels, the same on every x86 CPU), XLA on one thread
TENSORFLOW_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                  "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0",
                  "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}
TENSORFLOW_DISPATCH = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                       "XLA_FLAGS")


def lower_tensorflow_dispatch(level: str) -> dict:
    """oneDNN and XLA capped at AVX2 (or their SSE4 baselines)."""
    isa = "AVX2" if level == "avx2" else "SSE41"
    xla = "AVX2" if level == "avx2" else "SSE4_2"
    return {"ONEDNN_MAX_CPU_ISA": isa, "DNNL_MAX_CPU_ISA": isa,
            "XLA_FLAGS": f"--xla_cpu_max_isa={xla}"}


def tensorflow_setup(device="cpu", determinism=True):
    """Pin TensorFlow's numerics before any op runs (one intra- and one inter-op thread, op
    determinism, no TF32) and check the device; return the flags set, "device" the one to use."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ log noise only; errors still raise
    import tensorflow as tf

    # threading must be set before the first op executes, or TF raises RuntimeError
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if determinism:
        tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    if device in ("gpu", "cuda"):
        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeError("device 'gpu' requested but TensorFlow sees no GPU "
                               "(tensorflow-cpu has no GPU support)")
        tf_device = "/GPU:0"
    else:
        tf_device = "/CPU:0"
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    return {"tensorflow": tf.__version__, "op_determinism": determinism,
            "tensor_float_32_execution": tf32,
            "intra_op_parallelism_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_parallelism_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "soft_device_placement": tf.config.get_soft_device_placement(),
            "device": tf_device}


def tf_device(device: str) -> str:
    return "/GPU:0" if device in ("gpu", "cuda") else "/CPU:0"


def tensorflow_dispatch() -> dict:
    """Whether TensorFlow runs its oneDNN CPU kernels (which then follow oneDNN's ISA, capped by
    ONEDNN_MAX_CPU_ISA) and whether it was built with XLA, as TensorFlow's own tests ask it."""
    from tensorflow.python.util import _pywrap_util_port as port

    return {"onednn_enabled": bool(port.IsMklEnabled()),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
            "xla_built": bool(port.IsBuiltWithXLA())}


def tf_tensor(a, dtype):
    """A numpy array as a constant; bfloat16 from its exact float32 carrier."""
    import tensorflow as tf

    return tf.cast(tf.constant(a), tf.bfloat16) if dtype == "bfloat16" else tf.constant(a)


def tf_run(loss, x, label, weight, g, *, dtype, soft_label, want_grad, device="/CPU:0",
           mode="eager"):
    """The arrays as tensors (soft labels and weights in `dtype`, hard labels as given), then
    `loss(xt, y, w)` as numpy, or its gradient by tf.GradientTape (with the cotangent `g` of an
    unreduced loss, where given); bfloat16 widened to float32 exactly. Mode "compiled": `loss`
    through `tf.function(jit_compile=True)` (XLA). Returns (values, dtype name)."""
    import tensorflow as tf

    if mode == "compiled":
        loss = tf.function(loss, jit_compile=True)
    with tf.device(device):
        xt = tf_tensor(x, dtype)
        w = None if weight is None else tf_tensor(weight, dtype)
        y = tf_tensor(label, dtype) if soft_label else tf.constant(label)
        if want_grad:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                out = loss(xt, y, w)
            cotangent = None if g is None else tf_tensor(g, dtype)
            out = tape.gradient(out, xt, output_gradients=cotangent)
        else:
            out = loss(xt, y, w)
        values = (tf.cast(out, tf.float32) if out.dtype == tf.bfloat16 else out).numpy()
    return values, out.dtype.name


def tf_nn_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, ignore_index,
                        reduction, label_smoothing, want_grad, device="/CPU:0", mode="eager",
                        passed=None):
    """tf.nn's cross-entropy ops with ignore_index, class weights, smoothing, the class axis and
    the reductions composed the way TensorFlow users write them (`passed`: the arguments the case
    sets, None: all; what it leaves out is left to the op: last axis, no ignore, unreduced)."""
    import tensorflow as tf

    nd, ax = x.ndim, axis % x.ndim
    C, e = x.shape[ax], label_smoothing
    every = passed is None
    reduce = every or "reduction" in passed
    moved = (every or "axis" in passed) and ax != nd - 1
    ignore = every or "ignore_index" in passed

    def soft(xt, y, w):
        q = y
        if e > 0:
            q = q * (1 - e) + e / C  # label smoothing
        ce = (tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=xt, axis=axis)
              if every or "axis" in passed else
              tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=xt))
        if w is not None:
            bshape = [C if i == ax else 1 for i in range(nd)]
            sw = tf.reduce_sum(q * tf.reshape(w, bshape), axis=axis)  # sample weight sum_c w_c q_c
            per_pos = ce * sw
        else:
            per_pos = ce
        if reduction == "none" or not reduce:
            return per_pos
        if reduction == "sum":
            return tf.reduce_sum(per_pos)
        if w is not None:
            return tf.reduce_sum(per_pos) / tf.reduce_sum(sw)
        return tf.reduce_mean(per_pos)

    def hard(xt, y, w):
        labels = y  # as given: the sparse op takes labels without the class axis
        z = tf.transpose(xt, [i for i in range(nd) if i != ax] + [ax]) if moved else xt
        valid = tf.not_equal(labels, ignore_index) if ignore else tf.ones_like(labels, tf.bool)
        safe_y = tf.where(valid, labels, tf.zeros_like(labels)) if ignore else labels
        if e > 0:
            q = tf.one_hot(safe_y, C, dtype=getattr(tf, dtype)) * (1 - e) + e / C  # smoothing
            ce = tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=z)
        else:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe_y, logits=z)
        if w is not None:
            wy = tf.reduce_sum(q * w, axis=-1) if e > 0 else tf.gather(w, safe_y)
            sw = tf.where(valid, wy, tf.zeros_like(ce))  # class weight per position
            per_pos = tf.where(valid, ce * sw, tf.zeros_like(ce))
        else:
            sw = tf.cast(valid, ce.dtype)
            per_pos = tf.where(valid, ce, tf.zeros_like(ce)) if ignore else ce
        if reduction == "none" or not reduce:
            return per_pos
        if reduction == "sum":
            return tf.reduce_sum(per_pos)
        return tf.reduce_sum(per_pos) / tf.reduce_sum(sw)

    return tf_run(soft if soft_label else hard, x, label, weight, g, dtype=dtype,
                  soft_label=soft_label, want_grad=want_grad, device=device, mode=mode)


# Measured on 8192 x 128000 float32 (benchmarks/FINDINGS.md, section 5) for tf.nn and keras: the
# worker's own memory passed 5.1x the input during the forward alone before it was stopped, so
# these are lower bounds; a case that needs more than the machine has is unsupported, not a
# killed worker.
TF_MEMORY_FACTORS = {"forward": 6.0, "grad": 8.0}


# grad-assumes-normalised-labels cannot show under the harness's settings
NOT_SHOWN_FUSED_GRADIENT = (
    "only the fused softmax_cross_entropy_with_logits kernel has it, and with op determinism on "
    "(the harness default) TF takes the log_softmax path; the grid's soft rows also sum to 1")


class TensorFlowWorker(Adapter):
    """What every adapter on TensorFlow (tf.nn, keras) shares: its worker's variables, its
    dispatch, its memory."""

    extra = "tensorflow"
    environment = TENSORFLOW_ENV
    dispatch_variables = TENSORFLOW_DISPATCH
    memory_factors = TF_MEMORY_FACTORS

    @classmethod
    def worker_environment(cls, environ):
        return keep_user_flags(cls.environment, environ, "XLA_FLAGS")

    @classmethod
    def lower_dispatch(cls, level):
        return lower_tensorflow_dispatch(level)

    def dispatch(self):
        return tensorflow_dispatch()

    # the program's import-and-pin function: tensorflow_setup, or one that calls it
    setup_function = staticmethod(tensorflow_setup)

    def setup(self):
        return self.setup_function(self.device, op_determinism())

    def preamble(self):
        return self.setup_function, {"device": self.device, "determinism": op_determinism()}

    def arguments(self, params, check):
        """The arguments both entry points take; each adapter adds its own."""
        return {"dtype": params["dtype"], "axis": params["axis"],
                "soft_label": params["label_kind"] == "soft",
                "label_smoothing": float(params["label_smoothing"]),
                "want_grad": check == "grad", "device": tf_device(self.device),
                "mode": params.get("mode", "eager")}


class TfNnAdapter(TensorFlowWorker):
    name = "tf.nn"
    module = "tensorflow"
    distribution = "tensorflow-cpu"
    position = 30
    api = "tf.nn.sparse_softmax_cross_entropy_with_logits / tf.nn.softmax_cross_entropy_with_logits"
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={
            "soft_label": NATIVE,
            "use_softmax": ("unsupported: tf.nn's cross-entropy ops take logits only (softmax is "
                            "applied inside); feeding log(p) as logits renormalises p, and a "
                            "hand-written -sum(q*log(p)) would test the adapter, not TensorFlow"),
            "weight": COMPOSED, "ignore_index": COMPOSED, "label_smoothing": COMPOSED,
            "axis": COMPOSED, "reduction_none": NATIVE, "reduction_sum": COMPOSED,
            "reduction_mean": COMPOSED,
        },
        devices=("cpu", "gpu"),
        calls={"functional": NATIVE,
               "module": "unsupported: tf.nn has functions only; its loss classes are keras's"},
        modes={"eager": NATIVE, "compiled": NATIVE},  # tf.function(jit_compile=True): XLA
    )
    conventions = (
        DocumentedConvention(
            "zero-q-neg-inf-nan", DENSE_DOC,
            "dense op: -sum_c q_c * log_softmax_c is evaluated literally, so q_c = 0 at a -inf "
            "logit gives 0 * -inf = NaN (canonical treats that term as 0)",
            kind="defect",
            contradicts=("the docs are silent on -inf logits and the inputs meet every stated "
                         "requirement; the sparse op gives the finite loss for the same label "
                         "(0.6308), and the kernel's own gradient is finite (mathematics: a "
                         "zero target adds nothing)"),
            upstream="https://github.com/tensorflow/tensorflow/issues/40606",
            demo={"label": "soft", "dist": "neginf", "reduction": "none"}),
        DocumentedConvention(
            "grad-assumes-normalised-labels", DENSE_DOC,
            "dense op, fused kernel only (op determinism off): the gradient is softmax(x) - q; "
            "with op determinism on (this adapter's default) the gradient is analytic",
            kind="defect",
            contradicts=("the docs say of label rows that are not distributions 'the "
                         "computation of the gradient will be incorrect': it is not the "
                         "derivative of the documented forward value, and the op-determinism "
                         "path of the same call returns the true derivative"),
            upstream="https://github.com/tensorflow/tensorflow/issues/2327",
            no_demo=NOT_SHOWN_FUSED_GRADIENT),
        DocumentedConvention(
            "labels-without-class-axis", SPARSE_DOC,
            "the sparse op's labels have the logits' shape without the class axis: labels that "
            "keep a size-1 class axis are refused",
            quote=("labels: Tensor of shape [d_0, d_1, ..., d_{r-1}] (where r is rank of labels "
                   "and result) ... Raises: ValueError: If logits are scalars (need to have rank "
                   ">= 1) or if the rank of the labels is not equal to the rank of the logits "
                   "minus one."),
            raises=r"labels.shape.rank. must equal .logits.shape.rank - 1",
            scope={"label": ("hard-keepdim",)},
            demo={"label": "hard-keepdim", "reduction": "mean"}),
        DocumentedConvention(
            "unreduced-by-default", DENSE_DOC,
            "tf.nn's ops have no reduction: a call that does not reduce gets the per-position "
            "losses",
            quote=("Returns: A Tensor that contains the softmax cross entropy loss. Its type is "
                   "the same as logits and its shape is the same as labels except that it does "
                   "not have the last dimension of labels."),
            scope={"leaves": ("reduction",)},
            demo={"defaults": True, "label": "soft"}),
    )

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params.get("invalid") in COMPOSED_INVALID:
            reason = f"n/a: {COMPOSED_INVALID[params['invalid']]}"
        if reason is None and params["reduction"] not in ("none", "sum", "mean"):
            reason = f"n/a: {COMPOSED_INVALID['bad-reduction']}"
        return reason

    program = (tf_nn_cross_entropy, tf_run, tf_tensor)

    def arguments(self, params, check):
        return {**super().arguments(params, check), "ignore_index": params["ignore_index"],
                "reduction": params["reduction"], "passed": passed(params, TF_NN_ARGUMENTS)}
