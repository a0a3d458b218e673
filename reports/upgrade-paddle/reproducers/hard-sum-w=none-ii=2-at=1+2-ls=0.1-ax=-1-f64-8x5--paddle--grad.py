# xent-parity reproducer: paddle 3.3.1 on cpu, grad
# case hard-sum-w=none-ii=2-at=1+2-ls=0.1-ax=-1-f64-8x5
# API: paddle.nn.functional.cross_entropy
# verdict: known-defect: matches the known defect smoothing-skips-ignore+smoothing-coefficients-float32+grad-assumes-normalised-labels, not canonical (canonical: 40/40 elements beyond the bound at (0, 0): got -0.004576227378289664, expected 0.0; max error inf ULP (abs 0.797, rel inf); bound 4.94e-324 abs = 1 ULP)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[-2.636613875792828  ,  0.06662922264694282,  0.3442772446090086 , -0.02638681349599708,
   0.11061911179345539],
 [-0.17597444698268305, -0.03042373894937517, -0.21899996725964282,  0.6713810752742777 ,
  -0.13716448030331632],
 [-2.156320868088965  ,  0.5869136270553088 , -0.8115800996499455 , -1.2212170367538506 ,
  -0.0347735182770978 ],
 [ 0.07820653155004985,  0.10704667952503036, -0.9374926259202448 , -0.5645288601202637 ,
   0.5875979323610725 ],
 [-0.18978589171755003,  2.050816125954726  , -0.06750033214748614,  0.38928791759681114,
  -0.5347823689225321 ],
 [-0.33981390872765765, -0.7623339000851714 ,  0.70711245005249   ,  0.5357312484323963 ,
   0.24385163880968455],
 [ 0.4358606545862378 , -0.37346206468284854,  0.32886148939370397, -1.6696038069377783 ,
  -0.8765220930173407 ],
 [ 0.4993423110033141 , -0.06527454603699234,  0.04003342084976842, -1.1116768027038848 ,
   1.0647008391047108 ]], dtype=np.float64).reshape((8, 5))
label = np.array([2, 2, 2, 1, 4, 2, 0, 1], dtype=np.int64).reshape((8,))
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
grad, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=2, reduction='sum', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.1, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.array([[ 0.                  ,  0.                  ,  0.                  ,  0.                  ,
   0.                  ],
 [ 0.                  ,  0.                  ,  0.                  ,  0.                  ,
   0.                  ],
 [ 0.                  ,  0.                  ,  0.                  ,  0.                  ,
   0.                  ],
 [ 0.19826725610861876 , -0.6953462326232338  ,  0.059045299530964074,  0.09477628268417294 ,
   0.34325739429947805 ],
 [ 0.051318168183159346,  0.6503186027570613  ,  0.06059500442547837 ,  0.10725906842185738 ,
  -0.8694908437875565  ],
 [ 0.                  ,  0.                  ,  0.                  ,  0.                  ,
   0.                  ],
 [-0.5543228772551249  ,  0.14278463125331542 ,  0.3085705571045373  ,  0.0245354857615953  ,
   0.07843220313567681 ],
 [ 0.22038110493995136 , -0.783324603733339   ,  0.1318535714791721  ,  0.02800026287451701 ,
   0.40308966443969857 ]], dtype=np.float64).reshape((8, 5))
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
