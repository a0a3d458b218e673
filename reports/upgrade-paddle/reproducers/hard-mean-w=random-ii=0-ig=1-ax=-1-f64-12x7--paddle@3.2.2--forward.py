# xent-parity reproducer: paddle 3.2.2 on cpu, forward
# case hard-mean-w=random-ii=0-ig=1-ax=-1-f64-12x7
# API: paddle.nn.functional.cross_entropy
# verdict: inconsistent: paddle@3.2.2 follows empty-mean-zero here but not on 2 other result(s) where it would change the value (e.g. hard-mean-w=none-ii=-100-ax=-1-f32-0x5 forward): inconsistent, evidence of a defect; matches the known defect empty-mean-zero, not canonical (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/awhlNUNbAJAoXn1m1GYn78n7ic4oBlcP5f51i+E3+c/vCemCdEU/b8u2OQUFwy7P1VpwxKyEd0/qOxOg9Jj4z/v"
    "J8l7567iP+TmB95gJLG/aajwcdMr1b/OhFL4xELyP2ZnEp+o2/O/cyk6Or9l778zTQs5z8bcv0/JEeS8Jfm/zstwf3u4+T/T"
    "8wf/HF/oPxo/3YFw/AbAj1BAY0tY8b+iZMovjk7lv8DRsYScLdW/laaRyfkM8L/oyxJ52/S6vx/nbKLfnuc/aLRua8PM9b/r"
    "yMY8p6fuv1/09KmDSrs/0A4Kv5Ng6j+i4rDnERqLPyPETf3UVca/u2lhADgn5L/2uuZyLJ7kP8nCeTbnyOS/BW4lznpP4z/R"
    "Tb9pC3/4PxagNxbaO/e/PQLat8007L8fRDoT/OPtP+BxQ9tuGfi/h+9dL2TOnb8E3aIXkMrvP8oRkpZzjNe/mpvd+KKV97+g"
    "flzeAynDv9vIARAWquq/jEezDa1k3L9GqXRcqJkAQIQsc/DS9tc/I7NI0jUc9T/0vZ/8mN/yv8NHubp1Xuo/BiZosjFx8b/9"
    "9xCxy7f1P0Jm9FzOEfI/gCOsE3Bwv7/YDfJiGbwAwDAxrZoVnP2/eUtDCwGY8b8oHyG4vqnaP2P23lV9VrA/TMJC1MzP2L/X"
    "uha5OGmAv17JfCK3UvM/lNkZgHlQ5z983al3u7Tsv1sl3znPQPQ/nfwc0pxw8j9Xk5dLW3Hgv++fJL5Pnvc/1FWFMH/fwj+q"
    "yJQ+bvjyv1211n0szO+/sCz0YYGetz/1dRP3aWXwv809PA2/G+C/xKrZAd8wsr8yc/+Wggr7v7h+a2Rjb90/MXO0SLEi0j8X"
    "einxDbP3P9Wih1GxC94/As0GcZRl4D+1aHnm1C/svyFTcCA="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.int64).reshape((12,))
weight = np.array([1.1030341418003764, 0.7812318326912802, 1.3823263854572927, 0.5476814369543155,
 0.7632541642895685, 1.5030421439314856, 1.9523440470841187], dtype=np.float64).reshape((7,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=0, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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
