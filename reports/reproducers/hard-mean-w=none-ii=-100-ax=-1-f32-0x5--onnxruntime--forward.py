# xent-parity reproducer: onnxruntime 1.32.0 on cpu, forward
# case hard-mean-w=none-ii=-100-ax=-1-f32-0x5
# API: onnx SoftmaxCrossEntropyLoss (opset 13) in onnxruntime.InferenceSession
# verdict: error: raised Fail on valid input: [ONNXRuntimeError] : 1 : FAIL : Node () Op (Reshape) [ShapeInferenceError] Invalid Target shape product of 0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([], dtype=np.float32).reshape((0, 5))
label = np.array([], dtype=np.int64).reshape((0,))
weight = None
g = None

print('expected: float64 reference, canonical: the documented formula')
print('the call below fails on this valid input (error):')
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

loss, dtype = onnxruntime_cross_entropy(x, label, weight, g, dtype='float32', axis=-1, reduction='mean', ignore_index=-100, use_softmax=True, opset=13, ir_version=10, provider='CPUExecutionProvider')

def show(got, expected, dtype, what):
    """The framework's value, the expected value and the error at the worst element."""
    got = np.asarray(got)
    print(f"got: dtype {got.dtype}, shape {list(got.shape)}" + (f": {got!r}" if got.size <= 8 else ""))
    if expected is None:
        print(f"expected ({what})")
        return
    exp = np.asarray(expected, dtype=np.float64)
    print(f"expected ({what}): shape {list(exp.shape)}" + (f": {exp!r}" if exp.size <= 8 else ""))
    if got.shape != exp.shape:
        print("the shapes differ")
        return
    if exp.size == 0:
        print("both empty")
        return
    g = got.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where((g == exp) | (np.isnan(g) & np.isnan(exp)), 0.0, np.abs(g - exp))
    err[np.isnan(err)] = np.inf  # NaN/inf on one side only
    i = np.unravel_index(int(np.argmax(err)), err.shape)
    e, want = float(err[i]), float(exp[i])
    if dtype == "bfloat16":  # 8 significant bits: the float32 spacing times 2**16
        ulp = float(np.spacing(np.float32(abs(want)))) * 65536.0
    else:
        ulp = float(np.spacing(np.dtype(dtype).type(abs(want))))
    rel = e / abs(want) if want else float("inf") if e else 0.0
    where = tuple(int(k) for k in i)
    print(f"worst element (largest error) {where}: got {float(g[i])!r}, expected {want!r}")
    ulps = np.abs(exp).astype(np.float32 if dtype == "bfloat16" else dtype)
    far = int(np.count_nonzero(err > np.spacing(ulps) * (65536.0 if dtype == "bfloat16" else 1)))
    print(f"error there: {e:.3g} abs, {rel:.3g} rel, {e / ulp if ulp else float('inf'):.3g} ULP "
          f"of {dtype}; {far}/{err.size} elements more than 1 ULP away")

expected = np.array(np.nan, dtype=np.float64).reshape(())
show(loss, expected, 'float32', 'float64 reference, canonical: the documented formula')
