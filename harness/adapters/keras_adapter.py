"""keras: `keras.losses.SparseCategoricalCrossentropy` (hard labels) and
`keras.losses.CategoricalCrossentropy` (soft labels), TensorFlow backend, gradients by
`tf.GradientTape`.

Mapping of SPEC's parameters (and what is composed, the way keras users write it):
- `use_softmax` -> `from_logits`; `ignore_index` -> `ignore_class` (sparse loss only, passed when a
  label equals it; the categorical loss has no ignore);
- `reduction`: "none" -> `reduction=None`, "sum" -> "sum", "mean" -> "sum_over_batch_size" (the
  default), anything else is passed through so keras's own check answers;
- class axis: the categorical loss takes `axis=`; the sparse loss supports only the last axis
  ("Only axis=-1 is currently supported"), so the input (and a size-1 label axis) is moved last with
  `keras.ops.moveaxis` (composed);
- class weights: keras losses have none; users pass `sample_weight`. Hard labels: `w[y]`
  (`keras.ops.take`, ignored labels replaced by 0 first; keras's ignore mask zeroes them). Soft or
  smoothed labels: the canonical sample weight `sum_c w_c q_c`. The default reduction then divides
  by the number of (non-ignored) positions: convention `weighted-mean-by-count` (composed);
- label smoothing: native on the categorical loss. The sparse loss has no `label_smoothing` in keras
  3.15.1 (TypeError), so hard labels use the usual recipe `keras.ops.one_hot` +
  `CategoricalCrossentropy(label_smoothing=e)` (composed). That recipe has no ignore_class, and
  masking through `sample_weight` would count ignored positions in the mean, so hard labels with
  smoothing and ignored positions are unsupported.

dtype: every loss gets `dtype=<case dtype>`. With the default (`None` -> floatx, float32) keras
converts `y_pred` to float32 and silently computes a float64 case in float32; keras documents
`dtype` as "the dtype of the loss's computations", so the case dtype is the faithful request. A
consequence users of low-precision loss dtypes meet: `Loss.__call__` also converts the integer
`y_true` to that dtype, so bfloat16 rounds labels above 256 (and float16 above 2048) to other
classes, the keras 2 bug keras#15012 (fixed there by keras#15015) back in keras 3. It shows as a
mismatch or an out-of-range error on large-class bfloat16 cases; the adapter does not hide it.

The call is plain Python (`keras_cross_entropy`), and the reproducer is its own source.
"""

from __future__ import annotations

from harness.adapters.base import COMPOSED, NATIVE, Capabilities, DocumentedConvention
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


def keras_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, label_keepdim,
                        from_logits, reduction, ignore_class, label_smoothing, want_grad,
                        device="/CPU:0"):
    """keras's categorical (soft labels) or sparse categorical (hard labels) loss object, class
    weights as the sample_weight users pass; the loss or its gradient by tf.GradientTape."""
    import keras

    nd, ax = x.ndim, axis % x.ndim
    C, e = x.shape[ax], label_smoothing
    common = dict(from_logits=from_logits, reduction=reduction, dtype=dtype)

    def soft(xt, y, w):
        smooth = {"label_smoothing": e} if e > 0 else {}
        loss_fn = keras.losses.CategoricalCrossentropy(**common, **smooth, axis=axis)
        if w is None:
            return loss_fn(y, xt)
        qs = (y * (1 - e) + e / C) if e > 0 else y
        bshape = [C if i == ax else 1 for i in range(nd)]
        sw = keras.ops.sum(qs * keras.ops.reshape(w, bshape), axis=axis)  # sum_c w_c q_c
        return loss_fn(y, xt, sample_weight=sw)

    def hard(xt, y, w):
        labels, z = y, xt
        if ax != nd - 1:
            z = keras.ops.moveaxis(xt, axis, -1)  # SparseCategoricalCrossentropy: only axis=-1
            if label_keepdim:
                labels = keras.ops.moveaxis(labels, axis, -1)  # size-1 label axis last
        if e > 0:
            if label_keepdim:
                labels = keras.ops.squeeze(labels, axis=-1)
            q = keras.ops.one_hot(labels, C, dtype=dtype)  # no label_smoothing on the sparse loss
            loss_fn = keras.losses.CategoricalCrossentropy(**common, label_smoothing=e)
            if w is None:
                return loss_fn(q, z)
            sw = keras.ops.sum((q * (1 - e) + e / C) * w, axis=-1)  # sample weight sum_c w_c q_c
            return loss_fn(q, z, sample_weight=sw)
        ignore = {} if ignore_class is None else {"ignore_class": ignore_class}
        loss_fn = keras.losses.SparseCategoricalCrossentropy(**common, **ignore)
        if w is None:
            return loss_fn(labels, z)
        # class weight as sample_weight, which has the loss's shape
        y_pos = keras.ops.squeeze(labels, axis=-1) if label_keepdim else labels
        if ignore_class is not None:
            y_pos = keras.ops.where(keras.ops.equal(y_pos, ignore_class), 0, y_pos)
        return loss_fn(labels, z, sample_weight=keras.ops.take(w, y_pos))

    return tf_run(soft if soft_label else hard, x, label, weight, g, dtype=dtype,
                  soft_label=soft_label, want_grad=want_grad, device=device)


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
                  "reduction_none": NATIVE, "reduction_sum": NATIVE, "reduction_mean": NATIVE},
        devices=("cpu", "gpu"),
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
            demo={"weight": "random", "reduction": "mean", "checks": ["forward", "grad"]}),
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
            demo={"ignore_frac": 1.0, "reduction": "mean"}),
        DocumentedConvention(
            "empty-unreduced", f"{TAG}/keras/src/losses/loss.py#L140-L147",
            "reduce_values returns a 1-D empty loss (shape (0,)) unreduced for sum and mean",
            kind="defect",
            contradicts=("the docs say '\"sum\" sums the loss': a sum is a scalar, and a loss "
                         "of shape (2, 0) does reduce (to 0) where shape (0,) does not"),
            demo={"shape": [0, 5], "reduction": "mean"}),
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
    )

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and params.get("invalid") in COMPOSED_INVALID:
            reason = f"n/a: {COMPOSED_INVALID[params['invalid']]}"
        if (reason is None and params["label_kind"] != "soft" and params["label_smoothing"] > 0
                and params.get("uses_ignore")):
            reason = ("label_smoothing with ignored positions: SparseCategoricalCrossentropy has "
                      "no label_smoothing, and the one-hot + CategoricalCrossentropy recipe has no "
                      "ignore_class (a sample_weight mask would count ignored positions in the "
                      "mean)")
        return reason

    program = (keras_cross_entropy, tf_run, tf_tensor, tensorflow_setup)
    setup_function = staticmethod(keras_setup)

    def arguments(self, params, check):
        return {**super().arguments(params, check), "from_logits": bool(params["use_softmax"]),
                "reduction": KERAS_REDUCTION.get(params["reduction"], params["reduction"]),
                "ignore_class": params["ignore_index"] if params.get("uses_ignore") else None}
