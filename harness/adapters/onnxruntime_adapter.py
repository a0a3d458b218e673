"""onnxruntime: a one-node model holding the ONNX `SoftmaxCrossEntropyLoss` operator (opset 13,
OP_DOC below), run by `onnxruntime.InferenceSession`. Forward only: the inference package has no
gradients.

The model is built with `onnx.helper` for each case's shapes, dtypes and attributes (`reduction`,
`ignore_index`, the optional `weights` input), checked with
`onnx.checker.check_model(full_check=True)` as a user would, and its session is cached per
(model source, input shapes and dtypes). Declared shapes and element types are those of the arrays
actually fed, so ONNX and onnxruntime, not the adapter, judge them. The model is built
by plain functions (`onnx_feeds`, `onnx_model`) and the reproducer is their source, so a reproducer
is the adapter's computation verbatim.

Composed here (declared `composed`):
- the class axis: the operator's layout is `(N, C, d1, ...)`, so the input is moved with
  `np.moveaxis(x, axis, 1)`; the positions keep their order, so labels and `none` output need no
  transposition;
- probability input (`use_softmax=False`): `NegativeLogLikelihoodLoss(Log(p))` (NLL_DOC), the
  operator's own function body with `LogSoftmax` replaced by `Log`; hard labels only.

Not validated (ORT's behaviour is the result): negative labels in `[-C, -1]` wrap, an unknown
`reduction` string returns the sum, a weight longer than `C` is accepted; labels `>= C` raise (see
docs/research-frameworks.md §1.3 and §7). Empty input (`N = 0`) makes session creation fail in the
operator's `Reshape`; that is reported as the error it is.
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   Output, Unsupported, passed)

OPSET = 13
IR_VERSION = 10
OP_DOC = "https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html"
NLL_DOC = "https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html"
# the case's keys -> the operator's attributes and inputs (`defaults: true` leaves the others)
ONNX_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_index",
                  "weight": "weight"}

_BF16_NOTE = ("onnxruntime 1.32 CPU rejects the model at session creation: InvalidGraph: Type "
              "'tensor(bfloat16)' of input parameter (_inlfunc_SoftmaxCrossEntropyLoss_X_Log) of "
              "operator (NegativeLogLikelihoodLoss) is invalid (the op's function body has no "
              "bfloat16 kernel; the onnx checker accepts the model)")


def onnx_feeds(x, label, weight, *, dtype, axis):
    """The session's inputs: scores in the operator's (N, C, d1, ...) layout (`axis` None: as
    they are), the labels as given (moved with the scores when they have the class axis), the
    weights."""
    nd = x.ndim
    move = axis is not None and nd > 1 and axis % nd != 1
    scores = np.moveaxis(x, axis, 1) if move else x
    labels = np.moveaxis(label, axis, 1) if move and label.ndim == nd else label
    feeds = {"scores": np.ascontiguousarray(scores, dtype=dtype),
             "labels": np.ascontiguousarray(labels)}
    if weight is not None:
        feeds["weights"] = np.ascontiguousarray(weight, dtype=dtype)
    return feeds


def onnx_model(feeds, *, reduction, ignore_index, use_softmax, opset, ir_version):
    """A one-node model for the arrays in `feeds` (their shapes and element types declared as
    they are), checked as a user would check it."""
    import onnx
    from onnx import helper

    attrs = {k: v for k, v in (("reduction", reduction), ("ignore_index", ignore_index))
             if v is not None}  # None: the operator's default
    if use_softmax:
        nodes = [helper.make_node("SoftmaxCrossEntropyLoss", list(feeds), ["loss"], **attrs)]
    else:  # the operator's function body with LogSoftmax replaced by Log
        nodes = [helper.make_node("Log", ["scores"], ["log_p"]),
                 helper.make_node("NegativeLogLikelihoodLoss", ["log_p"] + list(feeds)[1:],
                                  ["loss"], **attrs)]
    inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype),
                                            list(v.shape))
              for k, v in feeds.items()]
    out_shape = list(feeds["labels"].shape) if reduction == "none" else []  # mean by default
    output = helper.make_tensor_value_info(
        "loss", helper.np_dtype_to_tensor_dtype(feeds["scores"].dtype), out_shape)
    graph = helper.make_graph(nodes, "xent", inputs, [output])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    onnx.checker.check_model(model, full_check=True)
    return model


def onnxruntime_session_options():
    """One thread, deterministic compute, every graph optimisation, warnings off."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.use_deterministic_compute = True
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return so


def onnxruntime_session(model, provider="CPUExecutionProvider"):
    """An inference session of `model` with onnxruntime_session_options."""
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), onnxruntime_session_options(),
                                providers=[provider])


def onnxruntime_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, reduction,
                              ignore_index, use_softmax, opset, ir_version,
                              provider="CPUExecutionProvider", sessions=None):
    """The loss from an onnxruntime session of the one-node model (`sessions`, a dict, caches
    them by model). `axis`, `reduction`, `ignore_index` None: the operator's defaults."""
    feeds = onnx_feeds(x, label, weight, dtype=dtype, axis=axis)
    model = onnx_model(feeds, reduction=reduction, ignore_index=ignore_index,
                       use_softmax=use_softmax, opset=opset, ir_version=ir_version)
    if sessions is None:
        sess = onnxruntime_session(model, provider)
    else:
        key = model.SerializeToString()
        sess = sessions.get(key)
        if sess is None:
            if len(sessions) >= 256:  # bound memory on long grids
                sessions.clear()
            sess = sessions[key] = onnxruntime_session(model, provider)
    out = np.asarray(sess.run(None, feeds)[0])
    return out, out.dtype.name


class OnnxRuntimeAdapter(Adapter):
    name = "onnxruntime"
    module = "onnxruntime"
    distribution = "onnxruntime"
    extra = "onnxruntime"
    requires = ("onnx", "onnxruntime")
    position = 60
    api = f"onnx SoftmaxCrossEntropyLoss (opset {OPSET}) in onnxruntime.InferenceSession"
    capabilities = Capabilities(
        dtypes=("float16", "float32", "float64"),
        features={
            "soft_label": ("unsupported: SoftmaxCrossEntropyLoss takes integer class labels "
                           "only (labels: tensor(int32|int64)); soft targets have no ONNX loss "
                           "operator"),
            "use_softmax": COMPOSED,
            "weight": NATIVE, "ignore_index": NATIVE,
            "label_smoothing": ("unsupported: SoftmaxCrossEntropyLoss has no label smoothing "
                                "attribute"),
            "axis": COMPOSED, "reduction_none": NATIVE, "reduction_sum": NATIVE,
            "reduction_mean": NATIVE,
            "framework_probs": ("unsupported: a model's probabilities are a Softmax node the "
                                "adapter would add; SoftmaxCrossEntropyLoss takes the scores")},
        gradient=False,
        devices=("cpu", "cuda", "gpu"),
        dtype_notes={"bfloat16": _BF16_NOTE},
        calls={"functional": NATIVE,  # an operator in a model: ONNX has no loss classes
               "module": "unsupported: ONNX has operators only; a model node is its one call"},
        # a session run of the graph is onnxruntime's one way to execute: it stands for the plain
        # call, and there is no second mode to compare it with
        modes={"eager": NATIVE,
               "compiled": "unsupported: onnxruntime has one execution mode, "
                           "InferenceSession.run of the optimised graph"},
    )
    # Nothing to declare: the operator's definition (OP_DOC: mean = ReduceSum(L) / ReduceSum(W),
    # W = weights[labels], 0 where ignored) is SPEC's canonical one, and every value case measured
    # on onnxruntime 1.32 is canonical, NaN for a mean with nothing left included (not
    # empty-mean-zero).
    conventions: tuple[DocumentedConvention, ...] = (
        DocumentedConvention(
            "labels-without-class-axis", OP_DOC,
            "labels have the scores' shape without the class dimension: labels that keep a "
            "size-1 class axis are refused at session creation",
            quote=("labels (heterogeneous) - Tind: The ground truth output tensor, with shape "
                   "[batch_size], or [batch_size, D1, D2, ..., Dk], where K is the number of "
                   "dimensions."),
            raises=r"\[ShapeInferenceError\] Target rank must be 1 less than the input rank",
            scope={"label": ("hard-keepdim",)},
            demo={"label": "hard-keepdim", "reduction": "mean", "checks": ["forward"]}),
        DocumentedConvention(
            "class-axis-1-by-default", OP_DOC,
            "the operator reads the classes at dim 1 (scores (N, C, D1, ...)); a model that "
            "feeds an [N, d, C] input as it is computes over d classes, or refuses labels "
            "shaped for the last axis",
            quote=("scores (heterogeneous) - T: The predicted outputs with shape [batch_size, "
                   "class_size], or [batch_size, class_size, D1, D2 , ..., Dk], where K is the "
                   "number of dimensions."),
            raises=r"\[ShapeInferenceError\] Input and target dimension value mismatch",
            scope={"leaves": ("axis",)},
            demo={"defaults": True, "shape": [2, 3, 3], "label": "hard",
                  "checks": ["forward"]}),
    )

    def setup(self):
        import onnx
        import onnxruntime as ort

        self.provider = self._provider_name()
        if self.provider not in ort.get_available_providers():
            raise RuntimeError(f"{self.provider} is not available in this onnxruntime build "
                               f"(available: {', '.join(ort.get_available_providers())})")
        self._sessions: dict = {}
        so = onnxruntime_session_options()
        return {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "opset": OPSET,
                "ir_version": IR_VERSION, "provider": self.provider,
                "intra_op_num_threads": so.intra_op_num_threads,
                "inter_op_num_threads": so.inter_op_num_threads,
                "use_deterministic_compute": so.use_deterministic_compute,
                "graph_optimization_level": str(so.graph_optimization_level),
                "checker": "onnx.checker.check_model(full_check=True)"}

    def dispatch(self):
        import onnxruntime as ort

        # MLAS, onnxruntime's CPU kernels, picks AVX-512/AVX2/SSE kernels at start-up and reports
        # none of it through the API; the execution provider is what it says
        return {"device": ort.get_device(), "provider": self.provider}

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and len(params["shape"]) < 2:
            reason = (f"input of rank {len(params['shape'])}: SoftmaxCrossEntropyLoss defines "
                      "scores as (N, C) or (N, C, d1, ..., dk); a rank-1 input has no batch axis")
        return reason

    # -- the call -----------------------------------------------------------------------------
    program = (onnxruntime_cross_entropy, onnxruntime_session, onnxruntime_session_options,
               onnx_model, onnx_feeds)

    def arguments(self, params, check):
        given = passed(params, ONNX_ARGUMENTS)

        def arg(key, value):  # what the case leaves to the operator: its default (None here)
            return value if given is None or ONNX_ARGUMENTS[key] in given else None

        return {"dtype": params["dtype"], "axis": arg("axis", params["axis"]),
                "reduction": arg("reduction", params["reduction"]),
                "ignore_index": arg("ignore_index", params["ignore_index"]),
                "use_softmax": params["use_softmax"], "opset": OPSET, "ir_version": IR_VERSION,
                "provider": self._provider_name()}

    def call(self, inputs, params, check):
        values, dtype = self.program[0](inputs.x, inputs.label, inputs.weight, inputs.grad_output,
                                        **self.arguments(params, check), sessions=self._sessions)
        return Output(values, dtype)

    def gradient(self, inputs, params):
        raise Unsupported("onnxruntime inference has no gradient")

    def snippet(self, params, check):
        if check == "grad":
            return "raise NotImplementedError('onnxruntime inference has no gradient')\n"
        return super().snippet(params, check)

    def _provider_name(self):
        return "CUDAExecutionProvider" if self.device in ("cuda", "gpu") else "CPUExecutionProvider"
