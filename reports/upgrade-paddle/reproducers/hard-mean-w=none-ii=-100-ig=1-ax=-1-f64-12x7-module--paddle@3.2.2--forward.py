# xent-parity reproducer: paddle 3.2.2 on cpu, forward
# case hard-mean-w=none-ii=-100-ig=1-ax=-1-f64-12x7-module
# API: paddle.nn.functional.cross_entropy
# verdict: inconsistent: paddle@3.2.2 follows empty-mean-zero here but not on 2 other result(s) where it would change the value (e.g. hard-mean-w=none-ii=-100-ax=-1-f32-0x5 forward): inconsistent, evidence of a defect; matches the known defect mean-counts-ignored, not canonical; also fits empty-mean-zero (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/X1UL9uJXs8/L23P52Cl5T/VMTBvm7npvykLUCb7xva/3XcfwGze4j8IQsWWYnDyP63KZbqCvvC/kmKy5xci8L+h"
    "ky47y3DUv9NPSw30eQBA5H2Ic5Rr4r9Z9/beJ/alv3eMzX9i/Nc/Us/FmN5j5T9VICq9uS7Ov2gZnsc7r+C/fBwHRuV78r87"
    "IgfVoBP2v0/9lf6b1ui/Q5c0AaXsvz/nL0uO70fWv3HCwL82PvE/Bqt7f36U+j+djFKGPCnrv2L5ZX4NPN+/QBme9W9v57+d"
    "AnW3wcq3v0M9yzonHey/lGG8iAl46j/kpzm9jxDPv63zs3O2HPe/jb2UInJnrb9VSaqGIs/wvynKQT8A5rA/HV/aiuQZzL8D"
    "KkdNFd3vvyg+ULC1pu+/cDse5o7ov7/oUIh8k0ngv5cJZ1VEEgHAgXsRzAn88L/HYi5ZtFHqPxu/2AXMtdS/VA8JL42a27+b"
    "c44Omm3oPwFtdTjcpMw/tuzT9SRTyT9/Hj9zvsnhv81WPo1JDOc/BHPfNg2G5D/w37jcuDDov/Ei6Mz98/s/gCxV/BzB1r8Y"
    "7b39kQz9v4kCId7mVcq/aoiJnstG1L9SZleOtNn1P2SZruGpX8G/eB3Yxh2S2T/h1M1ZEhLfv3e7X1K23tm/6IFg1T4t8j+J"
    "3nBh25THv+4aXX0nUue/owQ51qPH8j+S87TUf2LQv3o6vh1WCfg/81ck0ABI7L+MpP4luG3hP97hGgbqVfu/Ft+YqHAd+78h"
    "tRIhPDgBwIMY7ELTt+8/fuvXMcVG8r+Oio4YdljgP6My3iECE8c/s8sm0JVR7j8JPF9bsTO0P1i2Zpvexeg/YE/bN1hccz8i"
    "YYRLeB/hP8IjdOF2auW/PC48uoia979pWhSj+z/gPx+laD4="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([-100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100, -100], dtype=np.int64).reshape((12,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='module', mode='eager', passed=None, probs_from_logits=False)

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
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
