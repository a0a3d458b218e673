# xent-parity reproducer: paddle 3.2.2 on cpu, forward
# case hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=float-labels
# API: paddle.nn.functional.cross_entropy
# verdict: bad-input-accepted: invalid input (float-labels) accepted silently: returned 1.56363
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[ 1.9228932857513428  , -1.588248372077942   ,  0.8732302188873291  , -0.8041577339172363  ,
  -0.7760739922523499  ],
 [ 0.2734636664390564  , -1.4370163679122925  ,  0.7469053864479065  , -1.0118759870529175  ,
  -0.9881929755210876  ],
 [-1.1859560012817383  ,  0.8798419833183289  ,  1.6903342008590698  ,  0.9457072615623474  ,
   0.8281376361846924  ],
 [-0.07472747564315796 ,  1.2707200050354004  ,  1.2182937860488892  ,  0.7768669724464417  ,
   0.5513479709625244  ],
 [-0.8574031591415405  , -1.894147515296936   , -0.9693638682365417  , -0.12649863958358765 ,
  -0.5042451024055481  ],
 [-2.2373275756835938  ,  0.6401652097702026  , -1.2743077278137207  ,  0.012796499766409397,
  -0.8901646733283997  ]], dtype=np.float32).reshape((6, 5))
label = np.array([0., 0., 4., 3., 0., 2.], dtype=np.float32).reshape((6,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float32', ignore_index=-100, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = None
show(loss, expected, 'float32', 'an error: ValueError: label: hard labels (soft_label=False) must be integer class indices, got dtype float32; pass soft_label=True for per-class probabilities')
