# xent-parity reproducer: paddle 3.3.1 on cpu, forward
# case hard-mean-w=none-ii=12-ig=1-ax=-1-f64-12x7
# API: paddle.nn.functional.cross_entropy
# verdict: inconsistent: paddle follows empty-mean-zero here but not on 2 other result(s) where it would change the value (e.g. hard-mean-w=none-ii=-100-ax=-1-f32-0x5 forward): inconsistent, evidence of a defect; matches the known defect empty-mean-zero, not canonical (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/dCMubjQ4NE/rfa3WJj24j+PpBJX2xXePz7VswJcXeM/2Qtgxb0e479Ar8Tzgv/5v5oburWTn+u/zJfCRwSN7D9P"
    "rJlEmAWvP4l79Oa+puG/bXgyhOEfzL+bDDT7JinQPyS4CFUlAvc/1RTXkO0q4T/bsxNHWBLxP0Lw1cakhv8/ej0/5bbdhj8k"
    "t0aojlfzv8a4i9TkcfI/dQUfzAav4z8Y8SRkHXbKv0QmuZCW2/2/w76KcC6i6r+1Zt++qrP4P7q1tSi3mdw/O9d7i9GY5r9z"
    "vd5wYF7uv4JZgmpc1vo/Dr6oUyAOwr/yNngqT8zbv/yis0YxBcQ/jBstEsGJ3j8Vkzv1zUnov7sXsLm5dQJAq7PLEBtN0j/R"
    "5MJdmiLFP79fmAJfFOa/q/2Z1WYnzr8KElm+tO3hvwGhLOOGaei/ju0+nTvS0z9gl63nrGr3vxMCzZqd1bY/lhL7hiMlp78F"
    "U8+tyy7rv4ozeflr4Oc/1PCgFSBi6j/zhH5mhKHOP73tNBiqEvW/kq/GIAu7/b8Zybeo2OT+Pz9w4zd7reg/bZU21bKm7b/h"
    "HWtU4+LgPwwffJj7Yva/U0EmPDij2T8xkX8prHbyv7T96aPbsdk/P7D1oJMnvD/bGW3m/SLXvwdGMezsVvw/uLup5m9+6j/z"
    "kpvd2q/Rv4m+N2hFywRASZH1YHrp7r9jCr3BlibbPxNKMU6HerQ//4Cb6tm9tL8/PaGX6/70vwPJDv8PwN4/+L6d20+S4T+4"
    "Ut1PZoLev/Gg2usPhNM//iZ2i4erzj8jPEYa1l7yv+RovKZHrv0/NsLyFQ5Uyr85M4WM2o/1v4Zq7HD/QeE/A/pgapTQ0T9i"
    "qsxg9Lj0P7mvpVCNg9o/lCPNJzPJ8j8lLKKasqznv3GndQA="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12], dtype=np.int64).reshape((12,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=12, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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
