# xent-parity reproducer: paddle 3.3.1 on cpu, forward
# case hard-mean-w=random-ii=-1-ig=1-ax=-1-f64-12x7
# API: paddle.nn.functional.cross_entropy
# verdict: inconsistent: paddle follows empty-mean-zero here but not on 2 other result(s) where it would change the value (e.g. hard-mean-w=none-ii=-100-ax=-1-f32-0x5 forward): inconsistent, evidence of a defect; matches the known defect empty-mean-zero, not canonical (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/Q8N/FQ7fuM/7dXSQCmwyb92hQt6QgEBwColQB3XWPE/YxIRThwZ97+DP3YXce3fv1Wn3gKDUtW/DplXbauz+z9a"
    "YooghrHvP7yGuA7DRvq/XAUXmrkv1b94btRWGUoCQAbqX9TR8uo/qXD6ChcqA8BhTEAOKM/2P0DNgu8D4eq/LqZ7dRB+7r9Q"
    "trBIlNjpPy0763HbvqE/wiq7kdUS5j+FnjyB9MfivzcsTwr8ROA/GwYOsBJd6D/A6PJD8WTQPxyxpqmEHgJAOep6fLBp4L/9"
    "VIrPoBHkP7lh/Tvj9gLAxhfTwY0/zT+ZJyJwZSPkvyWAO1SM/Pe/2dgRSJmf8j/sVKUtmsu2v8nt/USMYPW/LPhzidj2979m"
    "cTjIWG/+PyMetx2jQfG/YVMSW6CF47+2PENq6TXPP0K0fuQVn8g/BRdlPWEO9z+YFbMYpIrSP+yGYZhtNOK/KCt1IXl9sz/D"
    "Ps3PPkP3v3ZYw45CBNk/x4cONuh6xz8Foh7v2zHtP77gw0JlYf2/F4JVJ5DZ5z+OjQkfU2Guv8jKPBKxVu6/9bKzBZZjyj+b"
    "PJKu5Obxv3Qxsf5OWfK/RU7aDrGG7r9fqq4H3hzWvzPRMmDxKtI/yf4CG8LoAED5W0Z9Usb1v94b0Ghuwvc/xdF8jANY3b91"
    "YNWMyiPvP2rMuQwOmNu//Wz8MN4h9T+D+cpIe8jov7A0NF3TWNy/1mV/Ya1G9r86k6q9e8nUPw+G//G8Xeo//qlm4NK13b/z"
    "0YywgM7xv4NXq2aks/C/vlQjzFDVwr+pEsowQGwFQD7gLhejbvI/WTPnafqS0z8M1IfjdvfKvyvlk36AI9I/MjWJ180f+z8h"
    "/B71nHD4v9FKU/jBW+O/P5NPc1/z8z/vP5VLdeDgv1bfZFE="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1], dtype=np.int64).reshape((12,))
weight = np.array([1.6569566737574475, 1.1369430230254762, 1.0530117657909788, 1.3984351219295   ,
 1.6310126215246852, 1.5784874771604254, 1.559225897200656 ], dtype=np.float64).reshape((7,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-1, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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
