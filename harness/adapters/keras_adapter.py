"""keras: the sparse categorical (hard labels) and categorical (soft labels) losses, TensorFlow
backend, gradients by `tf.GradientTape`: the functions `keras.losses.sparse_categorical_crossentropy`
/ `categorical_crossentropy` (call "functional") or the loss classes
`keras.losses.SparseCategoricalCrossentropy` / `CategoricalCrossentropy` (call "module").

The case's arguments reach keras as they are, and what keras does with one it does not take is
the result (declared where keras documents it):
- `use_softmax` -> `from_logits`; `ignore_index` -> `ignore_class` (passed when a label equals it;
  the categorical loss has none, soft labels ignore nothing);
- the class axis -> `axis=` when it is not the last (the sparse loss's TensorFlow backend refuses
  any other: `sparse-axis-last-only`);
- `label_smoothing` -> `label_smoothing=` (the sparse loss has none in 3.15.1: a TypeError,
  `sparse-no-label-smoothing`);
- labels as given: the sparse loss squeezes a size-1 class axis itself.

Composed (declared `composed`), because keras has no such argument:
- class weights: keras losses have none; users pass `sample_weight`: `w[y]` for hard labels
  (ignored labels weigh 0), the canonical sample weight `sum_c w_c q_c` for soft or smoothed ones;
- reductions of the functions (which return one loss per sample): `keras.ops.sum`, and for the mean
  `sum(l * s) / sum(s)` with the sample weights (or `keras.ops.mean` without weights or ignored
  labels). The classes reduce themselves: "none" -> `reduction=None`, "sum", "mean" ->
  "sum_over_batch_size" (the default), anything else passed through so keras answers.

dtype: a loss object gets `dtype=<case dtype>` in a fully specified call, since keras documents
`dtype` as "the dtype of the loss's computations"; with `defaults: true` it gets none, and keras
computes in floatx (float32): `float32-by-default`. Low-precision loss dtypes meet a bug:
`Loss.__call__` converts the integer `y_true` to that dtype, so bfloat16 rounds labels above 256
(and float16 above 2048) to other classes, the keras 2 bug keras#15012 (fixed there by keras#15015)
back in keras 3. It shows as a mismatch on large-class bfloat16 cases of the classes; the adapter
does not hide it.

The call is plain Python (`keras_cross_entropy`), and the reproducer is its own source.
"""

from __future__ import annotations

from harness.adapters.base import COMPOSED, NATIVE, Capabilities, DocumentedConvention, passed
from harness.adapters.tf_adapter import (NOT_SHOWN_FUSED_GRADIENT, TENSORFLOW_ENV,
                                         TensorFlowWorker, tensorflow_setup, tf_tensor,
                                         tf_run)

TAG = "https://github.com/keras-team/keras/blob/v3.15.1"

COMPOSED_INVALID = {
    "weight-shape": "keras losses have no class-weight argument (the adapter composes weights "
                    "through sample_weight)",
    "soft-ignore-positive": "CategoricalCrossentropy has no ignore argument (soft labels ignore "
                            "nothing)",
}
KERAS_REDUCTION = {"none": None, "sum": "sum", "mean": "sum_over_batch_size"}
# the case's keys -> keras's argument names (what `defaults: true` passes when the case sets it)
# (the loss dtype is passed only in a fully specified call: `defaults: true` never sets it)
KERAS_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_class",
                   "weight": "weight"}


def keras_setup(device="cpu", determinism=True):
    """Select keras's TensorFlow backend (before keras is imported), pin TensorFlow's numerics and
    import keras; return the flags set."""
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    flags = tensorflow_setup(device, determinism)
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"keras backend is {keras.backend.backend()!r}, not tensorflow "
                           "(keras was imported before KERAS_BACKEND was set)")
    return {**flags, "keras": keras.__version__, "keras_backend": keras.backend.backend(),
            "keras_epsilon": keras.config.epsilon(), "keras_floatx": keras.config.floatx()}


def keras_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, from_logits,
                        reduction, ignore_class, label_smoothing, want_grad, call="functional",
                        mode="eager", passed=None, probs_from_logits=False, device="/CPU:0"):
    """keras's categorical (soft labels) or sparse categorical (hard labels) loss: the function
    (call "functional", reductions as users compose them) or the loss object (call "module"),
    class weights as the sample weight users pass; the loss or its gradient by tf.GradientTape.
    The case's arguments reach the API as they are (one it does not take raises there);
    `passed`: those the case sets (None: all), the rest left to keras's defaults."""
    import keras

    nd, ax = x.ndim, axis % x.ndim
    C, e = x.shape[ax], label_smoothing
    every = passed is None
    if not (every or "ignore_class" in passed):
        ignore_class = None
    kw = {"from_logits": from_logits}
    if ax != nd - 1 and (every or "axis" in passed):
        kw["axis"] = axis
    if e > 0:
        kw["label_smoothing"] = e  # the sparse loss has none: keras answers
    if ignore_class is not None:
        kw["ignore_class"] = ignore_class  # the categorical loss has none: keras answers
    reduce = every or "reduction" in passed
    if call == "module":
        if reduce:
            kw["reduction"] = reduction
        if every:
            kw["dtype"] = dtype

    def sample_weight(y, w):
        """sum_c w_c q_c of each position (soft or smoothed labels), or w[y] with ignored
        labels weighing 0 (hard labels); None without weights or ignored labels."""
        if soft_label:
            if w is None:
                return None
            # the smoothed labels as keras smooths them (towards y_true.shape[-1] classes)
            q = (y * (1 - e) + e / x.shape[-1]) if e > 0 else y
            bshape = [C if i == ax else 1 for i in range(nd)]
            return keras.ops.sum(q * keras.ops.reshape(w, bshape), axis=axis)
        y_pos = keras.ops.squeeze(y, axis=axis) if y.ndim == nd else y  # labels with the axis
        if ignore_class is not None:
            valid = keras.ops.not_equal(y_pos, ignore_class)
            y_pos = keras.ops.where(valid, y_pos, 0)
        if w is None:  # the function's ignored positions must leave the composed mean
            return None if ignore_class is None or call == "module" else valid
        wy = keras.ops.take(w, y_pos)
        return wy if ignore_class is None else keras.ops.where(valid, wy, 0)

    def loss(xt, y, w):
        if probs_from_logits:  # the probabilities as keras's own softmax makes them
            xt = keras.activations.softmax(xt, axis=axis)
        sw = sample_weight(y, w)
        if call == "module":
            cls = (keras.losses.CategoricalCrossentropy if soft_label
                   else keras.losses.SparseCategoricalCrossentropy)
            loss_fn = cls(**kw)
            return loss_fn(y, xt) if sw is None else loss_fn(y, xt, sample_weight=sw)
        fn = (keras.losses.categorical_crossentropy if soft_label
              else keras.losses.sparse_categorical_crossentropy)
        per_pos = fn(y, xt, **kw)  # per position: the functions have no reduction
        weighted = per_pos if sw is None else per_pos * keras.ops.cast(sw, per_pos.dtype)
        if not reduce or reduction is None:
            return weighted
        if reduction == "sum":
            return keras.ops.sum(weighted)
        if sw is None:
            return keras.ops.mean(per_pos)
        return keras.ops.sum(weighted) / keras.ops.sum(keras.ops.cast(sw, per_pos.dtype))

    return tf_run(loss, x, label, weight, g, dtype=dtype, soft_label=soft_label,
                  want_grad=want_grad, device=device, mode=mode)


class KerasAdapter(TensorFlowWorker):
    name = "keras"
    module = "keras"
    distribution = "keras"
    requires = ("keras", "tensorflow")
    position = 40
    environment = {**TENSORFLOW_ENV, "KERAS_BACKEND": "tensorflow"}
    api = "keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy"
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={"soft_label": NATIVE, "use_softmax": NATIVE, "weight": COMPOSED,
                  "ignore_index": NATIVE, "label_smoothing": COMPOSED, "axis": COMPOSED,
                  "reduction_none": NATIVE, "reduction_sum": NATIVE, "reduction_mean": NATIVE,
                  "framework_probs": NATIVE},  # keras.activations.softmax, from_logits=False
        devices=("cpu", "gpu"),
        # keras.losses.(sparse_)categorical_crossentropy, keras.losses.(Sparse)CategoricalCrossentropy
        calls={"functional": NATIVE, "module": NATIVE},
        modes={"eager": NATIVE, "compiled": NATIVE},  # tf.function(jit_compile=True): XLA
    )
    # kinds and evidence: docs/research-frameworks.md (keras); the installed keras is v3.15.1
    conventions = (
        DocumentedConvention(
            "weighted-mean-by-count", "https://keras.io/api/losses/",
            "class weights as sample_weight with the default sum_over_batch_size: mean = "
            "sum_j w_j l_j / #non-ignored positions (mean_with_sample_weight would be canonical)",
            quote=('reduction: Type of reduction to apply to the loss. ... "sum_over_batch_size" '
                   'means the loss instance will return the average of the per-sample losses in '
                   'the batch ... Supported options are "sum", "sum_over_batch_size", "mean", '
                   '"mean_with_sample_weight" or None. "sum" sums the loss, '
                   '"sum_over_batch_size" and "mean" sum the loss and divide by the sample size, '
                   'and "mean_with_sample_weight" sums the loss and divides by the sum of the '
                   'sample weights.'),
            upstream="https://github.com/keras-team/keras/issues/19740",
            scope={"call": ("module",)},
            demo={"call": "module", "weight": "random", "reduction": "mean", "checks": ["forward", "grad"]}),
        DocumentedConvention(
            "probs-clipped", "https://keras.io/api/metrics/probabilistic_metrics/",
            "from_logits=False: p clipped to [eps, 1-eps], eps = keras.config.epsilon() = 1e-7; "
            "exact for CategoricalCrossentropy on rows that sum to 1, the precise forms are "
            "probs-clipped-renormalised / probs-renormalised-clipped",
            quote=("[categorical_crossentropy, the function both the loss and the metric call] "
                   "EPSILON = 1e-7, y = y_pred, y` = clip_ops.clip_by_value(output, EPSILON, "
                   "1. - EPSILON)"),
            upstream="https://github.com/keras-team/keras/issues/17634",
            demo={"input": "probs", "dist": "probs-zeros", "label": "soft", "reduction": "mean"}),
        DocumentedConvention(
            "empty-mean-zero", f"{TAG}/keras/src/losses/loss.py#L140-L219",
            "reduce_values/apply_mask divide with divide_no_nan: an all-ignored or zero-weight "
            "mean is 0",
            kind="defect",
            contradicts=("the docs are silent (the weakest call here: maintainers intend 0, "
                         "keras#21908); the documented mean over no position is 0/0, and "
                         "keras's own empty path (a loss of shape (0,)) returns the empty "
                         "array instead of 0"),
            scope={"call": ("module",)},
            demo={"call": "module", "ignore_frac": 1.0, "reduction": "mean"}),
        DocumentedConvention(
            "empty-unreduced", f"{TAG}/keras/src/losses/loss.py#L140-L147",
            "reduce_values returns a 1-D empty loss (shape (0,)) unreduced for sum and mean",
            kind="defect",
            contradicts=("the docs say '\"sum\" sums the loss': a sum is a scalar, and a loss "
                         "of shape (2, 0) does reduce (to 0) where shape (0,) does not"),
            scope={"call": ("module",)},
            demo={"call": "module", "shape": [0, 5], "reduction": "mean"}),
        DocumentedConvention(
            "probs-clipped-renormalised", f"{TAG}/keras/src/backend/tensorflow/nn.py#L1432-L1440",
            "SparseCategoricalCrossentropy(from_logits=False): log(clip(p, eps, 1-eps)) is fed to "
            "tf.nn.sparse_softmax_cross_entropy_with_logits, which renormalises the clipped row",
            kind="defect",
            contradicts=("the same probabilities give different losses on two code paths: the "
                         "TensorFlow backend's sparse loss renormalises after the clip (3.0e-7 "
                         "for a one-hot prediction) where the categorical loss and the sparse "
                         "loss of every other backend give 1.0e-7"),
            upstream="https://github.com/keras-team/keras/issues/11801",
            demo={"input": "probs", "dist": "probs-zeros", "label": "hard", "reduction": "none"}),
        DocumentedConvention(
            "probs-renormalised-clipped", f"{TAG}/keras/src/backend/tensorflow/nn.py#L1368-L1379",
            "CategoricalCrossentropy(from_logits=False): p / sum(p), then clip to [eps, 1-eps], "
            "then -sum q log; gradient -q/p + sum(q)/sum(p)",
            kind="defect",
            contradicts=("the docs are silent ('we assume that y_pred encodes a probability "
                         "distribution'): rows that do not sum to 1 are renormalised without a "
                         "word, so the loss is not the cross entropy of the probabilities given "
                         "(contested upstream, open)"),
            upstream="https://github.com/keras-team/tf-keras/issues/47",
            demo={"input": "probs", "dist": "probs-zeros", "label": "soft", "reduction": "mean",
                  "checks": ["grad"]}),
        DocumentedConvention(
            "smoothing-classes-from-last-axis", "https://keras.io/api/losses/probabilistic_losses/",
            "categorical_crossentropy smooths with num_classes = y_true.shape[-1], not "
            "shape[axis]",
            kind="defect",
            contradicts=("the docs smooth towards '0.1 / num_classes' along 'the features "
                         "axis' (axis); with axis != -1 keras divides by the last axis's size "
                         "(fixed after 3.15.1)"),
            upstream="https://github.com/keras-team/keras/pull/23437",
            demo={"shape": [4, 6, 5], "axis": 1, "label": "soft", "smoothing": 0.2,
                  "reduction": "none", "checks": ["forward", "grad"]}),
        DocumentedConvention(
            "zero-q-neg-inf-nan", f"{TAG}/keras/src/backend/tensorflow/nn.py#L1362-L1366",
            "from_logits=True goes through tf.nn.softmax_cross_entropy_with_logits: q_c = 0 at a "
            "-inf logit gives NaN",
            kind="defect",
            contradicts=("the docs are silent; a zero target adds nothing (0 log 0 = 0), and "
                         "the sparse loss gives the finite value (1.313) where the categorical "
                         "loss gives NaN for the same row"),
            demo={"label": "soft", "dist": "neginf", "reduction": "none"}),
        DocumentedConvention(
            "grad-assumes-normalised-labels",
            "https://www.tensorflow.org/api_docs/python/tf/nn/softmax_cross_entropy_with_logits",
            "from_logits=True, fused TF kernel only (op determinism off): gradient softmax - q; "
            "with op determinism on (this adapter's default) the gradient is analytic",
            kind="defect",
            contradicts=("TensorFlow's docs say of rows that are not distributions 'the "
                         "computation of the gradient will be incorrect'; keras says nothing, "
                         "and the op-determinism path returns the true derivative"),
            upstream="https://github.com/tensorflow/tensorflow/issues/2327",
            no_demo=NOT_SHOWN_FUSED_GRADIENT),
        DocumentedConvention(
            "sparse-no-label-smoothing",
            "https://keras.io/api/losses/probabilistic_losses/#sparsecategoricalcrossentropy-class",
            "the sparse loss (class and function) has no label_smoothing in keras 3.15.1: "
            "passing one is a TypeError (added upstream after 3.15.1)",
            quote=("keras.losses.SparseCategoricalCrossentropy(from_logits=False, "
                   "ignore_class=None, reduction=\"sum_over_batch_size\", axis=-1, "
                   "name=\"sparse_categorical_crossentropy\", dtype=None)"),
            upstream="https://github.com/keras-team/keras/issues/23487",
            raises=r"unexpected keyword argument 'label_smoothing'",
            scope={"label": ("hard", "hard-keepdim")}, excludes={"smoothing": (0.0,)},
            demo={"smoothing": 0.1, "reduction": "mean"}),
        DocumentedConvention(
            "sparse-axis-last-only", f"{TAG}/keras/src/backend/tensorflow/nn.py#L1390-L1400",
            "the sparse loss takes an axis argument but its TensorFlow backend refuses any "
            "axis but the last: ValueError 'Only axis=-1 is currently supported'",
            kind="defect",
            contradicts=("the docs give the sparse loss an axis argument ('axis: Defaults to "
                         "-1. The dimension along which the entropy is computed.') with no "
                         "restriction, and the categorical loss of the same backend takes any "
                         "axis"),
            raises=r"Only axis=-1 is currently supported",
            scope={"label": ("hard", "hard-keepdim")},
            demo={"shape": [4, 6, 5], "axis": 1, "reduction": "mean"}),
        DocumentedConvention(
            "unreduced-by-default",
            "https://keras.io/api/losses/probabilistic_losses/#sparsecategoricalcrossentropy-function",
            "the loss functions have no reduction: they return one loss per sample",
            quote=("y_true = [1, 2] ... loss = keras.losses.sparse_categorical_crossentropy("
                   "y_true, y_pred) ... assert loss.shape == (2,)"),
            scope={"leaves": ("reduction",), "call": ("functional",)},
            demo={"defaults": True, "label": "hard"}),
        DocumentedConvention(
            "float32-by-default", "https://keras.io/api/losses/",
            "a loss object made without dtype computes in keras.backend.floatx() (float32): "
            "float64 inputs are converted to float32 and the loss is float32",
            quote=("dtype: The dtype of the loss's computations. Defaults to None, which means "
                   "using keras.backend.floatx(). keras.backend.floatx() is a \"float32\" "
                   "unless set to different value (via keras.backend.set_floatx())."),
            scope={"leaves": ("dtype",), "call": ("module",)},
            demo={"defaults": True, "call": "module", "label": "soft"}),
    )

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params.get("invalid") in COMPOSED_INVALID:
            reason = f"n/a: {COMPOSED_INVALID[params['invalid']]}"
        if (reason is None and params.get("call", "functional") == "functional"
                and params.get("invalid") == "bad-reduction"):
            reason = ("n/a: the loss functions have no reduction argument (the adapter composes "
                      "reductions for call functional)")
        return reason

    program = (keras_cross_entropy, tf_run, tf_tensor, tensorflow_setup)
    setup_function = staticmethod(keras_setup)

    def arguments(self, params, check):
        return {**super().arguments(params, check), "from_logits": bool(params["use_softmax"]),
                "reduction": KERAS_REDUCTION.get(params["reduction"], params["reduction"]),
                "ignore_class": params["ignore_index"] if params.get("uses_ignore") else None,
                "call": params.get("call", "functional"),
                "passed": passed(params, KERAS_ARGUMENTS),
                "probs_from_logits": bool(params.get("probs_from_logits"))}
