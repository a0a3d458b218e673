# xent-parity reproducer: paddle 3.2.2 on cpu, grad
# case hard-mean-w=none-ii=-100-ig=0.25-ax=-1-f64-12x7-rel=weight-ones+permute+onehot+ignore-relabel+moved-axis+sum-of-none
# API: paddle.nn.functional.cross_entropy
# verdict: known-defect: matches the known defect mean-counts-ignored, not canonical (canonical: 63/84 elements beyond the bound at (9, 3): got -0.08279279086425866, expected -0.11039038781901155; max error 2.13e+15 ULP (abs 0.0276, rel 0.25); bound 3.27e-16 abs = 23.6 ULP)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/UnXuSAXYcs/vJDJlcVc9z9y7WmZIZLuv8q0MTGTjcS/aHwJ4oOx8j9axg6nhbT4v09PovAoJsI/rKxlfHPeAMCx"
    "8ECj0dPyv//yqb2sy7a/BtR2aJf+8D/ZPPShzyn0PzP95kcdccG/ETEpUgyN1r+ry82OyTAMQBiTDgbN+Py/UDO009OiwL+x"
    "JSZMyjbQv8nVgYB40eC/cWrGC5Td5z881RDhEoi1P/duQ+DviPC/KvQasH0hqz+FlHtQW2y2P+G3OK1yHOQ/lyfkxInCAUCH"
    "EXe0VGPgvzNkwgJ91va/JJd+P1af4D8o/6C1d67nv+lQhhrsQ/s/0U6suk3e87/cAbVOkqTPv1IpA740SOA/fpWSf4vs7j8e"
    "iQF12S/XvyeQ78UUdug/ddo5S1QB4L8F2zYTIFzUP8FSHLoT7vE/XnkTmql66L8nE81mFj4DwHPu/7ltdQJAIs01XwN7vD8n"
    "Q45VqiDQv6pD4OMIa80/CP1OK3SS+L9KzLUO4DT4P69l8xK+ErO/Od6c6E9Awj9KTimTe/zgv2qwxoh8Wta/E+Sd8Vvb9L8G"
    "kW3KC4/4v0aKLrPY8bW/nXUnVhds4D8L/G6AgfnIP57ZxkTX9/E/JN9V2j0a8j/qQpSPDl36v1h6kX1ofs4/VZEF8pAQ5r9D"
    "b1mVr/7vP44Qf19t39g/vYTJ53vE/L/NApg3nufyP5lljkY7TQHA7xntqpIewb+vc9y1hqHXP6C11cv1ugJAgQfvBMSHx7+G"
    "Xe+o9zTjPwvz9JJD1MC/YuwXfJeD8r/hlKUbcw3kv4G9pQH5T+6/FTg2eo3Y478vrs6Mr/fSv/mVaaTNl+K/hA08Jh0I2z/v"
    "07S25wUBwNONfuCs6qk/Km5NtSNCx797tVZ/enHKv0w3a9w="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([-100, -100,    5,    4,    4,    4,    0,    2,    6,    3,    1, -100], dtype=np.int64).reshape((12,))
weight = None
g = None

def paddle_setup(device="cpu"):
    """Select the device and pin paddle's numerics (one CPU math thread, no oneDNN, deterministic
    cuDNN where the build has it); return the flags set."""
    import paddle

    flags = {"device": str(paddle.set_device(device))}
    # One CPU math thread (there is no public paddle.set_num_threads in 3.3.1).
    paddle.set_flags({"FLAGS_paddle_num_threads": 1, "FLAGS_use_onednn": False})
    flags.update(paddle.get_flags(["FLAGS_paddle_num_threads", "FLAGS_use_onednn"]))
    core = getattr(getattr(paddle, "base", None), "core", None)
    if core is not None and hasattr(core, "set_num_threads"):
        core.set_num_threads(1)
        flags["core.set_num_threads"] = 1
    # Deterministic cuDNN where the build has the flag (CUDA builds only; CPU builds refuse it).
    try:
        paddle.set_flags({"FLAGS_cudnn_deterministic": True})
        flags.update(paddle.get_flags(["FLAGS_cudnn_deterministic"]))
    except ValueError as e:
        flags["FLAGS_cudnn_deterministic"] = f"not available in this build ({e})"
    return flags

def paddle_tensor(a, dtype):
    """A numpy array as a paddle tensor: floating values in `dtype` (bfloat16 carriers exactly),
    integers as int64."""
    import paddle

    t = paddle.to_tensor(np.array(a, order="C"))  # not ascontiguousarray: it makes 0-d 1-d
    return t.astype(dtype if np.asarray(a).dtype.kind == "f" else "int64")

def paddle_cross_entropy(x, label, weight=None, g=None, *, dtype, ignore_index, reduction,
                         soft_label, axis, use_softmax, label_smoothing, want_grad,
                         call="functional", mode="eager", passed=None, probs_from_logits=False):
    """paddle.nn.functional.cross_entropy (call "module": paddle.nn.CrossEntropyLoss; mode
    "compiled": through paddle.jit.to_static) with every argument passed through (`passed`: the
    ones to pass; None: all); the loss, or the input's gradient by autograd, as numpy with
    paddle's dtype name."""
    import paddle
    import paddle.nn.functional as F

    xt = paddle_tensor(x, dtype)
    xt.stop_gradient = not want_grad
    inp = F.softmax(xt, axis=axis) if probs_from_logits else xt  # paddle's own probabilities
    lt = paddle_tensor(label, dtype)  # as given: float labels (invalid) stay float
    w = None if weight is None else paddle_tensor(weight, dtype)
    kwargs = {"weight": w, "ignore_index": ignore_index, "reduction": reduction,
              "soft_label": soft_label, "axis": axis, "use_softmax": use_softmax,
              "label_smoothing": label_smoothing}
    if passed is not None:  # the label kind and input kind are the case's, always passed
        kwargs = {k: v for k, v in kwargs.items()
                  if k in passed or k in ("soft_label", "use_softmax")}
    if call == "module":
        loss = paddle.nn.CrossEntropyLoss(**kwargs)
    else:
        def loss(z, y):
            return F.cross_entropy(z, y, **kwargs)
    if mode == "compiled":
        loss = paddle.jit.to_static(loss)
    with paddle.set_grad_enabled(want_grad):
        out = loss(inp, lt)
    if want_grad:
        if g is not None:
            # paddle may keep a size-1 class axis (none-keeps-class-axis): same elements, order
            out.backward(paddle_tensor(np.asarray(g).reshape(out.shape), dtype))
        else:
            out.backward()
        if xt.grad is None:
            raise RuntimeError("paddle autograd produced no gradient for the input")
        out = xt.grad
    name = str(out.dtype).replace("paddle.", "")
    return (out.astype("float32") if name == "bfloat16" else out).numpy(), name

paddle_setup(device='cpu')
grad, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNpjYKAviFnz+jxD5g77x/OOFf1RtLP/foDt3y7LFPtnUhbShx8k2v9+w+4vbBNtPy1TjCn07a79HIw23/bxZtrPU0mzFyhJ"
    "sy+3LxW8sKjBPrmxwfGARaP9u08Fb+Wm9NpP/KXm3zppyX6+awVJrS+K7OuEpG7+9Iizl5h+hvFucq99Vq61Td26Avv6zW0X"
    "TrKusH9Sarw23zjFfoOvffndPbv2L1x4zctZpNfe7+WLCUd+TrPnTdm0I+5Ak72i8Oxte9/OsT/s9d5cPazB/vSCRfXLmyfZ"
    "F/Q4VEjKbdofsdq9Llqo0j5yp7ReblGwvZKuQMvNeav2NzXFdU19X2W/tW/2We/dRfbiPznzNwbX2b+5v/Qw/8EQ++i1t7nD"
    "ombbhxuqWs6NK7M/uczqBevh6fb1Gx/s9bTpsN+X1L7z1vkd+3VkLI4uTSyzP/ShoUf7UKH9vJ8M0REvJ9l7LT+4/afpQnvH"
    "6pRpd1622Td8sHB69nOOvd7O1zZlFnPtWzl8P+xgj7U32Nb/MfBNu31C251Ts18X2SuuNZtoyrVt/44mZ+7nb5vsGyOcPhYx"
    "BtpHc5dle7yaYt+/pTKx22nP/irPL7IuJWX2mfmbq05MaLKvYrX0uLlmg/0cRRWly9cn2nu86//bvmbT/t22WrNCz06yT7j/"
    "91/39yr7tX8e7Nd53Wbfd/7X5zMLG+wXfW8/oCfYbk9uegEA5NX2sg=="
)), dtype=np.float64).reshape((12, 7)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
