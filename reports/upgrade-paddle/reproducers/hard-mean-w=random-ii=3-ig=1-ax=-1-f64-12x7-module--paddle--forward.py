# xent-parity reproducer: paddle 3.3.1 on cpu, forward
# case hard-mean-w=random-ii=3-ig=1-ax=-1-f64-12x7-module
# API: paddle.nn.functional.cross_entropy
# verdict: inconsistent: paddle follows empty-mean-zero here but not on 2 other result(s) where it would change the value (e.g. hard-mean-w=none-ii=-100-ax=-1-f32-0x5 forward): inconsistent, evidence of a defect; matches the known defect empty-mean-zero, not canonical (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/btnVCOuPMe/asmNkYUKBMBYgwhcoMrbvx3j2kNRurq/r85ZKiJ97D9PX79DuCDov35hk2aibay/N6rPiXnZ2T9R"
    "fgRAVJYHwIE/vBwSUOY/XMQQHhOb3D8KzxVsh1oAwI/PFY8HBvU/C2bI35uE+z8iiLW1idLxP+oJejKiCsC/G0AwhgEc4r+G"
    "Aa6oarMAQE2vx6exC+U/xIINl/1KBkBcC/IW67zyP7t03Wdcz+Q/CR6/KjDN4j89DytDrgPjP+oHgx6OgO6/nqhin3tZ6T+W"
    "MWsXLYfBP2K3UDxwaeK/3EQoQwzA8r80vGk91WvhP29IIxsnP+2/2YI4VLPA17/As0c3PxT3PxQOW6usI+y/z+3Hpy8o8z+g"
    "kB3mXlL4v2r8P6r+q+O/QqbSY8xK8z9rxRkmCDCxv8oBl5WJS/c/+Tym4ei9t7+LcnS4LdC/P/byoHl/A/I/x7mct6VW8D9i"
    "G8RixDTIv7fi6sS1zOe/F9REbNU5qj9Xtt/a7FXxv9BLw4iRIOm/DEwbGDIz8b/W5RV+zli0P44IJdldyug/M9hPiv779L9r"
    "PccyMVbmv0xRJ0NskOa/vySWXtsM8b/FEpzck2rZv6oSJ18xnfM/z6ud94vg478zqbsOCSj2v5AOZ5kacbY/8yLPWAWQx7/V"
    "dB30AtcAwBoNY4dQJJw/R4UArFo+tb+LvSicz7fhv7I7jitnx/E/RAZVrjLR8z+UIky+eN/wP3OojJfEPOi/1ITUx0vN+T9s"
    "Dm4iGGTFv5gI+fHtr+4/qbzZIlcB8783cxkiL+LRP2B9oqd8lPK/ASJuwDTV7j+hCcqx61bMv0kjXzRarJu/YrotQTyn3j8V"
    "MfUi7nHLv1AItX/6hve/KH4aWujz9D94ws2HKtvkP3bmWCg="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], dtype=np.int64).reshape((12,))
weight = np.array([1.597415041833011 , 1.1887620404806927, 1.5736043645629478, 1.935746051717539 ,
 0.8140530771897418, 1.554880612402755 , 0.9506964262402302], dtype=np.float64).reshape((7,))
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=3, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False, call='module', mode='eager', passed=None, probs_from_logits=False)

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
