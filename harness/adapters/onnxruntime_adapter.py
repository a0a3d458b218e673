"""onnxruntime: a one-node model holding the ONNX `SoftmaxCrossEntropyLoss` operator (opset 13,
OP_DOC below), run by `onnxruntime.InferenceSession`. Forward only: the inference package has no
gradients.

The model is built with `onnx.helper` for each case's shapes, dtypes and attributes (`reduction`,
`ignore_index`, the optional `weights` input), checked with
`onnx.checker.check_model(full_check=True)` as a user would, and its session is cached per
(model source, input shapes and dtypes). Declared shapes and element types are those of the arrays
actually fed, so ONNX and onnxruntime, not the adapter, judge them. The model and feed code is
generated as text; the adapter executes exactly that text and `snippet` pastes it, so a reproducer
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
                                   Output, Unsupported)

OPSET = 13
IR_VERSION = 10
OP_DOC = "https://onnx.ai/onnx/operators/onnx__SoftmaxCrossEntropyLoss.html"
NLL_DOC = "https://onnx.ai/onnx/operators/onnx__NegativeLogLikelihoodLoss.html"

_BF16_NOTE = ("onnxruntime 1.32 CPU rejects the model at session creation: InvalidGraph: Type "
              "'tensor(bfloat16)' of input parameter (_inlfunc_SoftmaxCrossEntropyLoss_X_Log) of "
              "operator (NegativeLogLikelihoodLoss) is invalid (the op's function body has no "
              "bfloat16 kernel; the onnx checker accepts the model)")


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
            "reduction_mean": NATIVE},
        gradient=False,
        devices=("cpu", "cuda", "gpu"),
        dtype_notes={"bfloat16": _BF16_NOTE},
    )
    # Nothing to declare: the operator's definition (OP_DOC: mean = ReduceSum(L) / ReduceSum(W),
    # W = weights[labels], 0 where ignored) is SPEC's canonical one, and every value case measured
    # on onnxruntime 1.32 is canonical, NaN for a mean with nothing left included (not
    # empty-mean-zero).
    conventions: tuple[DocumentedConvention, ...] = ()

    def setup(self):
        import onnx
        import onnxruntime as ort

        self.onnx, self.ort = onnx, ort
        self.provider = self._provider_name()
        if self.provider not in ort.get_available_providers():
            raise RuntimeError(f"{self.provider} is not available in this onnxruntime build "
                               f"(available: {', '.join(ort.get_available_providers())})")
        self._sessions: dict = {}
        so = self._session_options()
        return {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "opset": OPSET,
                "ir_version": IR_VERSION, "provider": self.provider,
                "intra_op_num_threads": so.intra_op_num_threads,
                "inter_op_num_threads": so.inter_op_num_threads,
                "use_deterministic_compute": so.use_deterministic_compute,
                "graph_optimization_level": str(so.graph_optimization_level),
                "checker": "onnx.checker.check_model(full_check=True)"}

    def dispatch(self):
        # MLAS, onnxruntime's CPU kernels, picks AVX-512/AVX2/SSE kernels at start-up and reports
        # none of it through the API; the execution provider is what it says
        return {"device": self.ort.get_device(), "provider": self.provider}

    def _session_options(self):
        ort = self.ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.use_deterministic_compute = True
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        return so

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and len(params["shape"]) < 2:
            reason = (f"input of rank {len(params['shape'])}: SoftmaxCrossEntropyLoss defines "
                      "scores as (N, C) or (N, C, d1, ..., dk); a rank-1 input has no batch axis")
        return reason

    # -- the model, as the source a user would write ---------------------------------------------
    def feeds_source(self, params) -> str:
        """Python source that turns numpy `x`, `label`, `weight` into the session's `feeds`."""
        axis, dt = params["axis"], params["dtype"]
        nd = len(params["shape"])
        xs = f"np.moveaxis(x, {axis}, 1)" if nd > 1 and axis % nd != 1 else "x"
        ls = (f"np.squeeze(label, axis={axis})" if params["label_kind"] == "hard-keepdim"
              else "label")
        return (f"feeds = {{'scores': np.ascontiguousarray({xs}, dtype=np.{dt}),\n"
                f"         'labels': np.ascontiguousarray({ls})}}\n"
                "if weight is not None:\n"
                f"    feeds['weights'] = np.ascontiguousarray(weight, dtype=np.{dt})\n")

    def model_source(self, params) -> str:
        """Python source that builds `model` (an onnx ModelProto) for the arrays in `feeds`: the
        declared shapes and element types are those of the arrays."""
        attrs = f"reduction={params['reduction']!r}, ignore_index={params['ignore_index']}"
        if params["use_softmax"]:
            nodes = ("nodes = [helper.make_node('SoftmaxCrossEntropyLoss', list(feeds), ['loss'], "
                     f"{attrs})]")
        else:
            nodes = ("nodes = [helper.make_node('Log', ['scores'], ['log_p']),\n"
                     "         helper.make_node('NegativeLogLikelihoodLoss', "
                     f"['log_p'] + list(feeds)[1:], ['loss'], {attrs})]")
        out_shape = "list(feeds['labels'].shape)" if params["reduction"] == "none" else "[]"
        return "\n".join([
            "inputs = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), "
            "list(v.shape))",
            "          for k, v in feeds.items()]",
            nodes,
            "output = helper.make_tensor_value_info("
            f"'loss', helper.np_dtype_to_tensor_dtype(feeds['scores'].dtype), {out_shape})",
            "graph = helper.make_graph(nodes, 'xent', inputs, [output])",
            f"model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', {OPSET})])",
            f"model.ir_version = {IR_VERSION}",
            "onnx.checker.check_model(model, full_check=True)"]) + "\n"

    def _session(self, params, feeds):
        src = self.model_source(params)
        key = (src, tuple((k, v.shape, v.dtype.str) for k, v in feeds.items()))
        sess = self._sessions.get(key)
        if sess is None:
            from onnx import helper

            ns = {"onnx": self.onnx, "helper": helper, "np": np, "feeds": feeds}
            exec(compile(src, "<onnxruntime_adapter model>", "exec"), ns)
            sess = self.ort.InferenceSession(ns["model"].SerializeToString(),
                                             self._session_options(), providers=[self.provider])
            if len(self._sessions) >= 256:  # bound memory on long grids
                self._sessions.clear()
            self._sessions[key] = sess
        return sess

    def forward(self, inputs, params):
        ns = {"np": np, "x": inputs.x, "label": inputs.label, "weight": inputs.weight}
        exec(compile(self.feeds_source(params), "<onnxruntime_adapter feeds>", "exec"), ns)
        feeds = ns["feeds"]
        out = np.asarray(self._session(params, feeds).run(None, feeds)[0])
        return Output(out, out.dtype.name)

    def gradient(self, inputs, params):
        raise Unsupported("onnxruntime inference has no gradient")

    def snippet(self, params, check):
        if check == "grad":
            return "raise NotImplementedError('onnxruntime inference has no gradient')\n"
        return "\n".join([
            "import numpy as np", "import onnx", "import onnxruntime as ort",
            "from onnx import helper", "",
            self.feeds_source(params).rstrip(), "",
            self.model_source(params).rstrip(), "",
            "so = ort.SessionOptions()",
            "so.intra_op_num_threads = 1",
            "so.inter_op_num_threads = 1",
            "so.use_deterministic_compute = True",
            "so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL",
            "sess = ort.InferenceSession(model.SerializeToString(), so, "
            f"providers=[{self._provider_name()!r}])",
            "loss = np.asarray(sess.run(None, feeds)[0])"]) + "\n"

    def _provider_name(self):
        return "CUDAExecutionProvider" if self.device in ("cuda", "gpu") else "CPUExecutionProvider"
