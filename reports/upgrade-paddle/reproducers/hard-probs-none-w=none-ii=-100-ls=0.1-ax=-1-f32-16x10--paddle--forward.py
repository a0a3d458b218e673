# xent-parity reproducer: paddle 3.3.1 on cpu, forward
# case hard-probs-none-w=none-ii=-100-ls=0.1-ax=-1-f32-16x10
# API: paddle.nn.functional.cross_entropy
# verdict: known-defect: matches the known defect none-keeps-class-axis, not canonical (canonical: shape [16, 1] != expected [16])
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoFwQssFAAYB3B3HFlIppDVTSit0DHj3Pf/ZGO6xrIeZlit1oxWqSbZRcml8t4Uis7NY9isKDrkYpEakbVhnYyp01yFRMoj"
    "+v3M3E/B7GsfagyvqGzADJO6OqbVn/hxzQt68REMKPoQrdjETmJA061Hs8qXZR9EuN3aAJWXhBtirbjLYg0T/t1kG1CHwfKD"
    "5GBbQiLL61hRtcm6cmL5qKiHHhdmcuCOz5Tl/4ylkinZgmKO1DpvPFnughOs2SZugUXHTXB3JpvOa4vg/jcFh4ST1G7w4r6s"
    "W9BTJmZvjJOgX03rE0b8fEgCvV07ltM9OfF0FKd+NJbtdZtHV+YySRvr8QX2Aa+FF2WSkjoYdZiSj3EPadOD0HbCkrs1Bdju"
    "UIipRR1y+4kj3zTQtjxX9qkIw1SLG3cGGEjkNUxqdSJpY/7QQHESzyvfIbjYmh2bOmm4pwI5OyuowbyaySKaVEV+2Pw2ieaq"
    "t+DF7iUqyxIFlHrYUeG9Ynisp3KBUCcz9fODQFzNlkHeMLbahQMTnpDHayivLY21CfmYXPhFcRYivhmihHTRlWcLkzm20QLT"
    "47GY7pilwJhJVOmd0ag9TJLwFI78LqTB/XKZwmBPzhVmPGxu4KsjAl66U06qS3t43285bC6s0JVQJYnOBuOcey1o5BNJSzdy"
    "yIYEjEVnY1OUMZsojnF1bzxf1kUgd+0fwl0EkD6oQYyLHGH5jlDOSzDU0osM6RhrZhm1vpUYdXHkSuqHx9NUNHf2IERcSkbf"
    "spGRpkVTiQkni0PZU5jLqw8LIBhaxuh9F3qp0SGs6iTPPKonw/tWnKlV09YIJf4DgvETkg=="
)), dtype=np.float32).reshape((16, 10)).copy()
label = np.array([6, 1, 9, 5, 5, 8, 9, 0, 4, 2, 6, 7, 1, 8, 8, 1], dtype=np.int64).reshape((16,))
weight = None
g = np.array([-0.3324302136898041 , -0.11683979630470276, -1.183936595916748  , -0.552704393863678  ,
 -0.1583801507949829 , -0.28304243087768555, -1.6506412029266357 , -0.5842776298522949 ,
 -0.8059612512588501 ,  0.9725505113601685 ,  0.6993426084518433 ,  0.43003594875335693,
  0.2651911973953247 ,  0.1691562533378601 , -1.1050746440887451 ,  0.16186174750328064], dtype=np.float32).reshape((16,))

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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float32', ignore_index=-100, reduction='none', soft_label=False, axis=-1, use_softmax=False, label_smoothing=0.1, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.array([3.0795136089254727, 2.221496442393029 , 4.778941955556701 , 3.3708944960261356,
 2.1215039847485975, 3.6811600990662994, 3.4547178440219324, 3.5632101830662286,
 3.4711892402193647, 3.0871298880295197, 2.239767043131525 , 1.9428764871602373,
 2.988297281681862 , 1.0174626347357825, 2.084781438594373 , 2.6463811806463338], dtype=np.float64).reshape((16,))
show(loss, expected, 'float32', 'float64 reference, canonical: the documented formula')
