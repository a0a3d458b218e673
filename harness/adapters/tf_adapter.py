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

The generated source (`_source`) is what both the adapter executes and `snippet()` returns, so a
bug-report snippet is exactly the adapter's call.

Numerics: one intra-op and one inter-op thread, TF32 off, and `enable_op_determinism()`. Determinism
is not neutral here: with it, TF swaps the fused kernels for `log_softmax` + gather/reduce_sum
(nn_ops.py), which gives the analytic gradient for unnormalised soft labels and checks labels via
`GatherV2`. Set XENT_PARITY_TF_DETERMINISM=0 to test the fused kernels instead (recorded in flags).
"""

from __future__ import annotations

import os

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   Output, keep_user_flags)

DENSE_DOC = "https://www.tensorflow.org/api_docs/python/tf/nn/softmax_cross_entropy_with_logits"

DETERMINISM_ENV = "XENT_PARITY_TF_DETERMINISM"


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


def configure_tensorflow(device: str) -> tuple[object, dict, str]:
    """Import TensorFlow and pin its numerics before any op runs; returns (tf, flags, device)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ log noise only; errors still raise
    import tensorflow as tf

    # threading must be set before the first op executes, or TF raises RuntimeError
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    det = op_determinism()
    if det:
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
    flags = {"tensorflow": tf.__version__, "op_determinism": det, "tensor_float_32_execution": tf32,
             "intra_op_parallelism_threads": tf.config.threading.get_intra_op_parallelism_threads(),
             "inter_op_parallelism_threads": tf.config.threading.get_inter_op_parallelism_threads(),
             "soft_device_placement": tf.config.get_soft_device_placement(),
             "device": tf_device}
    return tf, flags, tf_device


def tensorflow_dispatch() -> dict:
    """Whether TensorFlow runs its oneDNN CPU kernels (which then follow oneDNN's ISA, capped by
    ONEDNN_MAX_CPU_ISA) and whether it was built with XLA, as TensorFlow's own tests ask it."""
    from tensorflow.python.util import _pywrap_util_port as port

    return {"onednn_enabled": bool(port.IsMklEnabled()),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
            "xla_built": bool(port.IsBuiltWithXLA())}


def tensorflow_header() -> list[str]:
    """Snippet lines that import TensorFlow configured as `configure_tensorflow` does."""
    lines = ["import numpy as np", "import tensorflow as tf",
             "tf.config.threading.set_intra_op_parallelism_threads(1)",
             "tf.config.threading.set_inter_op_parallelism_threads(1)"]
    if op_determinism():
        lines.append("tf.config.experimental.enable_op_determinism()")
    lines.append("tf.config.experimental.enable_tensor_float_32_execution(False)")
    return lines


def input_lines(params) -> list[str]:
    """`xt`: the input tensor in the case dtype (bfloat16 from its exact float32 carrier)."""
    dt = params["dtype"]
    if dt == "bfloat16":
        return ["xt = tf.cast(tf.constant(x), tf.bfloat16)  # exact: x carries bfloat16 values"]
    return ["xt = tf.constant(x)"]


def finish_lines(params, check: str, pre: list[str], body: list[str],
                 result: str = "out") -> list[str]:
    """`pre` makes the tensors (`xt` among them); `body` computes tensor `out` from them. For the
    gradient `body` runs under a tape watching `xt`. Leaves numpy `loss` / `grad` (bfloat16
    widened to float32, exactly)."""
    if check == "grad":
        dt = params["dtype"]
        lines = pre + ["with tf.GradientTape() as tape:", "    tape.watch(xt)"]
        lines += ["    " + b for b in body]
        if params["reduction"] == "none":
            cast = (f"tf.cast(tf.constant(g), tf.{dt})" if dt == "bfloat16" else "tf.constant(g)")
            lines.append(f"dx = tape.gradient({result}, xt, output_gradients={cast})")
        else:
            lines.append(f"dx = tape.gradient({result}, xt)")
        lines.append("grad = (tf.cast(dx, tf.float32) if dx.dtype == tf.bfloat16 else dx).numpy()")
        return lines
    return pre + body + [f"loss = (tf.cast({result}, tf.float32) if {result}.dtype == tf.bfloat16 "
                   f"else {result}).numpy()"]


def _perm_to_last(ndim: int, ax: int) -> list[int]:
    return [i for i in range(ndim) if i != ax] + [ax]


def _source(params, check: str) -> str:
    """The code that computes the case with tf.nn, given numpy x, label, weight, g."""
    dt, shape, axis = params["dtype"], params["shape"], params["axis"]
    nd = len(shape)
    ax = axis % nd
    C = shape[ax]
    e = float(params["label_smoothing"])
    red = params["reduction"]
    has_w = bool(params.get("has_weight"))
    pre, body = input_lines(params), []
    wcast = f"tf.cast(tf.constant(weight), tf.{dt})" if dt == "bfloat16" else "tf.constant(weight)"
    if has_w:
        pre.append(f"w = {wcast}")
    if params["label_kind"] == "soft":
        qcast = (f"tf.cast(tf.constant(label), tf.{dt})" if dt == "bfloat16"
                 else "tf.constant(label)")
        pre.append(f"q = {qcast}")
        if e > 0:
            body.append(f"q = q * (1 - {e!r}) + {e!r} / {C}  # label smoothing")
        body.append("ce = tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=xt, "
                    f"axis={axis})")
        if has_w:
            bshape = [C if i == ax else 1 for i in range(nd)]
            body.append(f"sw = tf.reduce_sum(q * tf.reshape(w, {bshape}), axis={axis})"
                        "  # sample weight sum_c w_c q_c")
            body.append("per_pos = ce * sw")
        else:
            body.append("per_pos = ce")
        if red == "none":
            body.append("out = per_pos")
        elif red == "sum":
            body.append("out = tf.reduce_sum(per_pos)")
        elif has_w:
            body.append("out = tf.reduce_sum(per_pos) / tf.reduce_sum(sw)")
        else:
            body.append("out = tf.reduce_mean(per_pos)")
        return "\n".join(finish_lines(params, check, pre, body)) + "\n"

    # hard labels
    pre.append("y = tf.constant(label)")
    if params["label_kind"] == "hard-keepdim":
        body.append(f"y = tf.squeeze(y, axis={axis})")
    if ax != nd - 1:
        body.append(f"z = tf.transpose(xt, {_perm_to_last(nd, ax)})  # class axis last")
    else:
        body.append("z = xt")
    ii = params["ignore_index"]
    body.append(f"valid = tf.not_equal(y, {ii})  # ignore_index")
    body.append("safe_y = tf.where(valid, y, tf.zeros_like(y))")
    if e > 0:
        body.append(f"q = tf.one_hot(safe_y, {C}, dtype=tf.{dt}) * (1 - {e!r}) + {e!r} / {C}"
                    "  # label smoothing")
        body.append("ce = tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=z)")
    else:
        body.append("ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe_y, logits=z)")
    if has_w:
        wy = "tf.reduce_sum(q * w, axis=-1)" if e > 0 else "tf.gather(w, safe_y)"
        body.append(f"sw = tf.where(valid, {wy}, tf.zeros_like(ce))  # class weight per position")
        body.append("per_pos = tf.where(valid, ce * sw, tf.zeros_like(ce))")
    else:
        body.append("sw = tf.cast(valid, ce.dtype)")
        body.append("per_pos = tf.where(valid, ce, tf.zeros_like(ce))")
    if red == "none":
        body.append("out = per_pos")
    elif red == "sum":
        body.append("out = tf.reduce_sum(per_pos)")
    else:
        body.append("out = tf.reduce_sum(per_pos) / tf.reduce_sum(sw)")
    return "\n".join(finish_lines(params, check, pre, body)) + "\n"


# Measured on 8192 x 128000 float32 (benchmarks/FINDINGS.md, section 5) for tf.nn and keras: the
# worker's own memory passed 5.1x the input during the forward alone before it was stopped, so
# these are lower bounds; a case that needs more than the machine has is unsupported, not a
# killed worker.
TF_MEMORY_FACTORS = {"forward": 6.0, "grad": 8.0}


class CodeRunner:
    """Executes generated source (the same as `snippet`'s) with tf and the arrays in scope."""

    def __init__(self):
        self._code: dict[str, object] = {}

    def run(self, tf, tf_device: str, source: str, inputs, extra: dict | None = None) -> dict:
        code = self._code.get(source)
        if code is None:
            code = self._code[source] = compile(source, "<xent-parity snippet>", "exec")
        ns = {"tf": tf, "np": np, "x": inputs.x, "label": inputs.label, "weight": inputs.weight,
              "g": inputs.grad_output, **(extra or {})}
        with tf.device(tf_device):
            exec(code, ns)  # noqa: S102 - our own generated source, identical to snippet()
        return ns


def output_from(ns: dict, check: str) -> Output:
    t = ns["dx"] if check == "grad" else ns["out"]
    return Output(ns["grad" if check == "grad" else "loss"], t.dtype.name)


class TfNnAdapter(Adapter):
    name = "tf.nn"
    module = "tensorflow"
    distribution = "tensorflow-cpu"
    extra = "tensorflow"
    position = 30
    environment = TENSORFLOW_ENV
    dispatch_variables = TENSORFLOW_DISPATCH

    @classmethod
    def worker_environment(cls, environ):
        return keep_user_flags(cls.environment, environ)

    @classmethod
    def lower_dispatch(cls, level):
        return lower_tensorflow_dispatch(level)
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
    )
    memory_factors = TF_MEMORY_FACTORS
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
            upstream="https://github.com/tensorflow/tensorflow/issues/40606"),
        DocumentedConvention(
            "grad-assumes-normalised-labels", DENSE_DOC,
            "dense op, fused kernel only (op determinism off): the gradient is softmax(x) - q; "
            "with op determinism on (this adapter's default) the gradient is analytic",
            kind="defect",
            contradicts=("the docs say of label rows that are not distributions 'the "
                         "computation of the gradient will be incorrect': it is not the "
                         "derivative of the documented forward value, and the op-determinism "
                         "path of the same call returns the true derivative"),
            upstream="https://github.com/tensorflow/tensorflow/issues/2327"),
    )

    def dispatch(self):
        return tensorflow_dispatch()

    def setup(self):
        self.tf, flags, self.tf_device = configure_tensorflow(self.device)
        self.runner = CodeRunner()
        return flags

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params.get("invalid") in COMPOSED_INVALID:
            reason = f"n/a: {COMPOSED_INVALID[params['invalid']]}"
        if reason is None and params["reduction"] not in ("none", "sum", "mean"):
            reason = f"n/a: {COMPOSED_INVALID['bad-reduction']}"
        return reason

    def _run(self, inputs, params, check):
        ns = self.runner.run(self.tf, self.tf_device, _source(params, check), inputs)
        return output_from(ns, check)

    def forward(self, inputs, params):
        return self._run(inputs, params, "forward")

    def gradient(self, inputs, params):
        return self._run(inputs, params, "grad")

    def snippet(self, params, check):
        header = tensorflow_header()
        body = _source(params, check)
        if self.device in ("gpu", "cuda"):
            body = "with tf.device('/GPU:0'):\n" + "".join(
                "    " + line + "\n" for line in body.splitlines())
        return "\n".join(header) + "\n" + body
