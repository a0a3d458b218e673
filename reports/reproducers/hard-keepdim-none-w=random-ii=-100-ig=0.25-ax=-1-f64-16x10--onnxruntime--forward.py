# xent-parity reproducer: onnxruntime 1.32.0 on cpu, forward
# case hard-keepdim-none-w=random-ii=-100-ig=0.25-ax=-1-f64-16x10
# API: onnx SoftmaxCrossEntropyLoss (opset 13) in onnxruntime.InferenceSession
# verdict: divergent: raised on valid input, as convention labels-without-class-axis says: Fail: [ONNXRuntimeError] : 1 : FAIL : Node () Op (NegativeLogLikelihoodLoss) [ShapeInferenceError] Target rank must be 1 less than the input rank.
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoN0os/EwgcAHDvPNIO1aG663MkUYd0la7rN4/ziaG2y/SQzoXkMd0RvaSr5RHVNY3TRaFGCUkkym/hPA8zj5n3tI3TjG0m"
    "r3T3/Ru+sVeUr5NNBCi8O2TPrJRAwC1CNtloFiiR+aurDR5hBEszRm5cjHlCdoS14Qg09vRl1ryaBE6Ri6//+nfg0FnZn1vE"
    "wU2lDL+e8k6wyPDUN3/8GQIixBXUQBkOJ3ftUh9SY8+dCDFctqTijR1uoPpeBNauMVNlpnxQrC66KSmYgWIHLQ3H8B6gKV+V"
    "CRgjGEVrzBbfHYO8X2Izy169R9eDF9FY4yOGpJ5M+j2Diw8vjHj8pbkMjPlyCmVVDRbX5a/0KvsI+9gK2kDODEiyxrf/WPIB"
    "59u5B2Z3qbF5OhTNVNIY/FawyeYbAge0ebuMpBdE0J9ICiRqyKCToelJlrQiP1NQ/iFRg90Q3Rep4yoDuwS/Z/vWTUHU0Uvm"
    "G+iDuN9WbK0PiyjW5IoMZquh9Cmp8fTLZeSVcsjOcjamKEh02+EJWJofc40lCJDs1fx1lKUq+20T3VLmL8eJX92Yl2jTuCIr"
    "SVCh1w+U6Fobz0UlGpJCOWHnSuBgm+zdsNUiqIVIK3cTFqB8KX2n6VYu0lnP1M12SiHabl54zOET+EaWl/ZXd6Glc0Jvcq8I"
    "CBmtTvEd9WCk5WpiF/wPJO1J+jIwWw66py7HdLTLgWg9WDuzVgm+939qip7go1uo32GKrAs0D9kEvjTJhj+fbxSumfoXepbK"
    "vMk0KXJvHlEY+E0BJ8L5HnG3CtsoKC7OOlGA3NnQRHvPNtQ+MbFi2X8UDI9459wKaIecCTlbdeUCxh+lVtSllkDhtqwlK7Ml"
    "tDN9SmKlKKCT6aWjf1QIjfzuaNbOWtgemF9tnjiN7mfr7jW1jsLPFoxUanMdDAl91lyxl+FpQeBeWbAESnysZixeysDQwLnI"
    "kd8DTvnZEcrMLhwO0xUwnvBg/V7rrhcu09Bx7Tik5n5E3zOJTx5MSVHMVzJ6zdowJSJjxxaqCpFQQ7JY/VaVTXKZ6WG9mcCv"
    "ThDDTGPyYNzz9mlV0hsk82Pn7K/QwGVzn3qRphhaiB5i7f9fZ5lWJbPVRvDNUoCiymEMVp2nl7BnNdiEPyorvfInMdLDUVq3"
    "cRGIQgbNO6Ub+JUkV6p0GZefJmkZX54GSYp7wY3geXzQd1/kGT6OpquSciihSujzUc0lGEgxjKtc8339BGxgsi+Gxw9BQvpA"
    "8RbiAGjFF3yeOzCIj685nfJdO41OS2oLbeRaKLzpLbhsK8CgIIlg2F0GzedeiF+3ijBAW+V6SOQcMsesI4W6HDD249mm7y/H"
    "wetjTL20DiQb00zyLBQQ2RDk29MpxyfF1NjcoA5c2JPfx7JRIbZSEwIeO3zCbV7+h48JRFA8evzbY21K0LUsfAgmzeheZj4T"
    "m8IFoX5lqFVLNyQT5qPT6C3w3aPbJ1n2QxiVUEs+ZyUD8HXSANoorOOZp301zUEeNys5WP43nIWGFN2FOtjqwixxr+2FuHC9"
    "NHO3BuCVjt85bzUI9Sd/SNpIqIKLxzc76rEKsLxFpZ54bxpu9/l8cdVPAtyRG5Q7vSMYpsiIJ6fLwCOOU/1o/SRk6MTsZ+II"
    "lPXn2nk31aGuerteaBYdDnrlisy8a6BXtFisvPYJ7atQNPBcDnGFV+/vOTOGCpvuikOTnfAfxUunng=="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([[   7],
 [   1],
 [-100],
 [   5],
 [   4],
 [   5],
 [-100],
 [   2],
 [   2],
 [   5],
 [   1],
 [   3],
 [-100],
 [   0],
 [   1],
 [-100]], dtype=np.int64).reshape((16, 1))
weight = np.array([1.0759207589965034, 1.4449372740533468, 0.9591291800075561, 1.6136429089336042,
 0.9775269216611595, 1.4550408891248758, 1.3538979305576377, 0.9243501224606875,
 0.5355367626874408, 1.3533249157601954], dtype=np.float64).reshape((10,))
g = np.array([-1.8235324756215345  ,  0.3638905081295758  , -2.2505598600781167  ,  2.1005614789497384  ,
  0.695433022273763   , -0.8654612346312246  ,  0.15548798091034619 , -1.5171440314511062  ,
 -1.7442622034500475  ,  1.0012248279666882  ,  0.34533242809952397 ,  0.6239010194670117  ,
  0.3743858538882417  , -1.34762339175836    , -0.04739987659967377 ,  0.018843695926011542], dtype=np.float64).reshape((16,))

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

loss, dtype = onnxruntime_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, reduction='none', ignore_index=-100, use_softmax=True, opset=13, ir_version=10, provider='CPUExecutionProvider')

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

expected = np.array([2.4606605409637083, 5.88979740201265  , 0.                , 2.3236428022637843,
 4.074883642370805 , 5.343116727660564 , 0.                , 2.154737012535507 ,
 3.6515200717337977, 3.8858384232522476, 2.7236487636290643, 3.639763046706976 ,
 0.                , 2.298620129530726 , 3.6285055024155812, 0.                ], dtype=np.float64).reshape((16,))
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
