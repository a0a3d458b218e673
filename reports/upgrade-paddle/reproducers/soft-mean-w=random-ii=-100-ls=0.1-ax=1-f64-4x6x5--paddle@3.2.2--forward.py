# xent-parity reproducer: paddle 3.2.2 on cpu, forward
# case soft-mean-w=random-ii=-100-ls=0.1-ax=1-f64-4x6x5
# API: paddle.nn.functional.cross_entropy
# verdict: error: raised ValueError on valid input: (InvalidArgument) Input(X) has error dim. X'dims[2] must be equal to 6. But received X'dims[2] is 5
#   [Hint: Expected x_dims[x_ndim - 1] == N, but received x_dims[x_ndim - 1]:5 != N:6.] (at /paddle/paddle/phi/kernels/impl/matmul_kernel_impl.h:253)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBwAM//OWIdTXxf+m/W4N4l5s1BkAG3ZokqHDwP/vBf4Op6dC/FzL9WaSq8784KtQixzTyv1XkZPac/+0/9zFRkUmGlb+O"
    "9EfQ803/v6UPol5J//I/+r7Q/u5Eyb9NSxDXerj5P9d8LGBGwfY/XqumWrRe8z8Kn/CKKwIDQO/UYisEO9Y/XiqQNqNZ4D/i"
    "iUTXAL73P1vZlAkujq2/UXIkW7XT5L92xIHkLCzXv0QtVCXCd+M/d4VcI5DE5b9OMplpF6jmP8rbYn51q+U/mjS1EDj98z+H"
    "DhJ6tZXcP1ETMxbUxu+/Y6DtYthl2T8YyCuQqBzwv2BnAcS1WsW/6asqgoTa5L/EqYQHWYKqP9OEzBJnKu8/lA6LN/gmyD/R"
    "ssg1UavMv8LAsGUANP0/ql9cRyK/x79bi76PIafaPx8tMFh5oeE/jVljKc+j87905x3SsrXkP2cSowco0uy/2eXurvmt879d"
    "QJW5lAD2v5ul8F5Dn+Q/lmQDc1yp/z/kOLy91JgCwIf39E/YZ+y/wKvTiy726T9FokRascTfP+sCLh32bsa/KnEYaehJ8T8S"
    "cLNgA4iMvzS82OOE5de/YaTXlWlN+j9/s4UDwIn3PzwSSQ/Mife/iSAP152T/L8qv4nMGoXlP9ZAtRyMBsC/htCEZ9Sl/D9h"
    "1sDfhFHav82xU3Vh7t8/YctheWKh5z+AnbtYZTbDv+qfMa99b8u/y5ZQInHT3r+EpXdOo076P3NFjM+jnuU/zyCI1sxG67/d"
    "R+0GNp3rv3ADmV5SMow/GTmISL2r8z/1q5qEgOEDQKaygTmscfC/7A6cWC7o8j8/g/Ha+KPpv900ulURQek/3NK3+wgn9L/P"
    "R2zaRbj/v3IqJ60QeO2/0Zi3oKPC+L/ab3zjlIEDQNqPOBrsEew/3V9kEPg38j/qW148+E/iv08ntk9Kk/0/Dyk8+EyK1z/5"
    "upu8QOHcv87Qc9ugyum/UPXymGUj5j9DEFumQQvGv2y70aMJi+k/+aLb3Osl7T9eJfhNzfXqv6baDpyos/y/Jx2YHHGGA8Ag"
    "4fYh/eztP/DCjb5yB4g/UaLkGZH9/T+9UU8c2B30v1By52aREts/HYWneUWg6r9MUZ0+aAPDP0d6GFVlrfA/3WC+MTww7D/S"
    "8Y4Fa6/dP7d0X7Dqa8i/gf4CLODF9L9j4AnKVgnzP91iFkgvBLO/yU5wJCBf3D8GUMpyWn3wv1LKPq8Pg+C/ZFtqStIT4T+m"
    "wvy0lKHFvzK5wwokitE/FI8H0Kyk6L+dZdwlhur7v3i0CGA="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoNynlUEwQAB+C4gs1AsOKSUKAA8SnRa5jw9PdYi0dCkptyKMeQUR6EAeOocBzq9BHjcoQ+huJgXGMOx7gi2ME5GMRsPAZs"
    "OeMZoHQg8kBRqe/vryqLZkgRVoP7Yc0y2aQZ7j2xuxrOinGjcI5I+HgCJapixl+XHqLZl/xe31cVEO+sbGpuncTRXkN79d12"
    "kH9aKN3vNghKxLOXUjUX4dyYg/llanwrDvqmMloEi5G4ncenxkA4VcFIXWzAj1vfN1y7XI51i3iLIv7vCDq9Q3WGPwafrSXx"
    "GKcdGwd5EutOLSY/exlsNMohKfLMPpsvQ5QNqz/KZhJ8J+cQi2MCOLcKa+LfkGF2Re9p4yVELiOXnvzm/19zZGjGahAeM+sW"
    "6ZFGaLN3CBWXezCcfGmRdWocU/uGcki8DkQSvd4V7pbic7MYag6xGC2ZdOVtpy5AuhqbYZ4Npr/SIZu+gMa+rWL2YD9kxz8a"
    "OPxqEouFtta5N5Vgtpue4CTIMU9p29NB60TmeFNAlEENyxtrpqUqLbg1Him621oQt4m8abVymFnzTibqUxA4XJlHsp2Fsupv"
    "y7gmDdbGg7v8ztSDLPVq884chUh36Jiyrx4xw4bGFn8uuuwr7O7yxEiwn+fckikwzQgjLAqVmHAybXVNFkB49B8f+9Be2NXt"
    "SgiLF4FeqeD50CfBoGRyMop0uELsPFAWq8EAf/nwHfd7qH//1/s1P/BADVxZWK2SI3yJfL4lcQj967MFzENtYLvMmDxyq8Kr"
    "hacvNqiJeOt+AOveUy00LJ7bC7N0qPNvkbiuevj35CW1TcwiNIt1rXHpDzSQ85/EM/uhD0L0Wl4rug90U1LPF2EuY7PA6mIH"
    "tg141FwI0aIo0Cbpi7wBPEx+QlNq/sS+kS5d3aoEDP4H50IfT0HuHzh6+vV13CxpqW0eHwKl2IddV1WL5XQkpnrLwafZsvq/"
    "FqHXZshRJRaAEMqspqw0wyXCskfblYbvOIRNWbccjkb3nHCHaQSRqCG6t0chMc8Lrv30Ilx0u+sozyWQ2C3T34kYR0lGh8AI"
    "DSaI1NA9z4fxycYF+3ijAYSV6r3ztt1IozVangz+BdF+faUBRjVGAv/lMmo1MOgKBPrNalx1v5oxXC4Eb0tmquDN4JwJifXo"
    "dSHueGqWdOpeRLI9J/giFbzncgKo5N8QtHpCKL0ugvf+WN/g7QKkacMcpstVCGAXJHxpNQAFk6fc6zcD50zFA9dYCbK2N5Uc"
    "2ezAz+a+Ek5lGXoayp+1P1DgcZJjfk6cFP8BE+3WuQ=="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
weight = np.array([0.6311394076504464, 0.5367712913215811, 1.0366979700233103, 1.0057013259849197,
 1.2738486578919173, 0.5982736797117614], dtype=np.float64).reshape((6,))
g = None

print('expected: float64 reference, canonical: the documented formula')
print('the call below fails on this valid input (error):')
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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='mean', soft_label=True, axis=1, use_softmax=True, label_smoothing=0.1, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.array(2.4016679367365863, dtype=np.float64).reshape(())
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
