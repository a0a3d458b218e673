# xent-parity reproducer: paddle 3.3.1 on cpu, forward
# case soft-probs-none-w=random-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: paddle.nn.functional.cross_entropy
# verdict: known-defect: matches the known defect log-zero-1e20+none-keeps-class-axis, not canonical (canonical: shape [16, 1] != expected [16])
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNqFkX8w23cYx+WuOlz1aOdH/KpbTbW90Si30vKmrhRrq1yrLb3Oj9ZKyYaiaP2a2+ipW7MhIUz9jNTPlBIkRKLT0ETmGM4W"
    "1UnbmDKsl6C2P7avP1xvz3+v9/N53s/zeZ6i7/LX1MZ9yFIalcwEtCJfuCTCD4PwCVKwStuG4KawaB4Kp4P6S4C5e00tNP6N"
    "a04BZle3ibEr7PXlTzglhP5fGPpYlrd1sOE5lvzSzJwBz7c3LCiqh5jKSZJ/0FWPJ0NU9UTnc9zW8F5oXORCsWJo3/Fl9xaf"
    "fVevePSmtRB60W0dnYa0NnytO/Lq/qF8MI9XfzaoLcT4b0U0f4oAhcqPzHnBXKh9/QIrdSRQri9eKDrXB/3LY8FWZqXIfRvv"
    "wBGyECNQjE+EZhC+6lqV77Q2g+CPn5kOhy2lgCLLfWNZpsS2E6m8HH4ekX9wwJucry5DumakwV5BJdZG62YTvAewbJ6b2r+3"
    "FF7MTtXxk8PEe9MMZwgpQwRHhCqmSKRKxJ1XCipiGRgLl4fUNomgq6EZv+QoQmzNYe5BimSz31+Uip3rrfCNc733oaAJk09N"
    "rM+TRES+6nlWnnUfG9qf06h2XoOELuYOOGp25+DCXOoE/ZaU0NM3mMJTZbwt+/7j9/1WCk8eptMP3l3yF0H/XZ22e3AvNsjU"
    "+Yenf0J+ws+URjsZ7ioSnZ/JemEYaZ39eHrr3f4vrFerJSkxU/COSJZm9/dg1CZCwImSwXjyYrTDpWaUu0ccS9bqgmhlQdF9"
    "n4NGCXuDvI+Fb1N6rVwS22DTdFYvqrgTr0trfoRBPS6FvlPdS2RgrTjtWMgMk5iHFB0k0kvgE3xY9emLgYFCyHkKMoU0Avkc"
    "xa0sUILiP8/Jl2ks0KhWeQFS8Zb/tFyjxSkuDqJAOHvGkt8DN4v4b65ktMCtTxmTS5di93WxaDxaDKellDCfliaivvArdp6s"
    "6QHBr+Ys54OpXIJtx4+8PKBiE8zw2rHX1rGR4Dt1N1tq1tvQGRgsd/HvgPMpa+7NjF/xve+wHreiG/yYbOejTuUo0jv7hfRx"
    "L2LfJJhw6QNb5l/Z7liUmTT93jtN62UXH1l7BKPts2c67EeRZtpwXTdTjME043kn2wKirnlUPzxztQTu9HZykFkP9qg9WAli"
    "6Xt9c4wORaYsdkNi6EraTWvHKnPH0xjOCPxskC61q4F0fzXZpZEFvsmoA6+1nfCZGXdecK1vgP0uA4vT4f3w0C69ESXb3ONR"
    "tWdX1h0+lAoDDp/JRoG4Xss79BFulfnlMfaUIzCrKoqrJURIM/3EpMPmfKuTy1U7U/+594skge4TNv4GrVjO7g=="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoNyns8EwgAB3CjJH1ityRH3ZVYSlih6NSP6yFJc4rz6DqPoq7LUTtaVnlcEp+zm2rMY2zkWWIe81xlu5nnmjxGlNd9dnZx"
    "F+fSke6+f38XaLZ2x+mt+EJ/f98VQRFyiCVRlWP3wTRrerl3pBBZ6ma96bXFuC3g+3PkXAhOthrt0u8ARfgmciJEgv0XbN/9"
    "1F6MgXN29PD8dpSTiQbjUU8R+afWaMjEI9h7T9MPzcrhx9ZrMnksws6wdzd9tjVAJB5XtI7xQVwuJvqOVOBqJGUvL7oGKTZL"
    "jlRVBVaT9ngE19XiaeZfCVXnhainVVpT1DXQ95/gmlkKcIXJ2dRlWIvv/ZfySkkSeOQfU42zONCbV/e6EWQwfPeNlG8gxPWT"
    "Nmd7fZLQP2PV+eC1DEa0NZa2Wc2orrc37DjRB2aQ5qtwbwbO3+rVX3XtKQyqMtfJWAXYuMQvq35ZjW27IwZeuTDh8fCjp4pd"
    "iaShl4sZp8UYufRhRxa5HBlhPYka8XXQj9y9Q+SsQIeD34emQAlurfhXORn6CwKbOOxl/xpsbw4MkaSJ8dXC5PrzjgK46E4x"
    "fHbS4Xk3uX7RpxSfKbmqvG11IIQ27rqQnALGyIGkzU/qcFfWYPt7Gw/TgZupF7+9DwaBfNN5oxCJAbO9GuRcyA+aqR+c4yLa"
    "e/BGj9Uz8EyfPzSgdmM27ILwsnYvlBvnxSUzJYh1JHWMsWPh9jEk9S2zCF0vyo3cKZ3wfmDha9SdCtPhM9IldRniTBq1WNxS"
    "RKp9LYYHRvFxVkWd+CcBdgl/O42JWbC2ut+cs7UIMfVHZoZ0GhGevHX7bGs7xGWWhqvbJIhQVdH0ulqwVE34hFPeBl9qbXFm"
    "RCpEQQuU8HgO4nQ1Hn4nLcC+I5snfGkluCNYyQ3uZEOylkn1mi5FZfpcfJH8Mb7UpNjknuEhVRZnHnOKgwBahulx6nM4kbzq"
    "TR/lYFAzgHcnsRAMzRvmeuFSODvRw5OOvkCC5W9vTpskg/E8Y4bcmonEUGKdu7INylglc1iZDVeeIlh1uRHDdlEkxuBVHLrn"
    "/QN/QgkC78auPXwJfFpoU0vyPLTFHqgiKni4/bO4pisgB5bSSxwCgwf64Og0JApwDYwHGsj1MJ+ap7l/fQ+Fljc1X3kVIS1P"
    "7HM4tgr04B+rDw71QsfzbdPdviB8eO+UpscQwnhKN6pdtxLKELHOYjoLnSGHG5NHm5FtTrKbsxFiXO3VOarVgKCALbJMl/+f"
    "sYK+4tRFOI6rNrgmNEO+bNaax6yCkYur5zSpH9bVGooO7WvItvD7VLq9AiZdgjD7ZSHmuQVb1X/0YJXDs+hlHRHOFiSoPeP7"
    "EbPFkJoiYeJzSnuaaNEL4+anI8TuLAQn0vnRTfkYIqBkpbIF3dEiVWdLD+zzScGbNIphrOnHSnN+AkcL3/zpnsdoYbUMucpz"
    "YB0n104fy8U+D8J1uVsNNvG1XvSdqIW1C3G2Y309Fs0Y+/iEHrQ4T2WXWVUgRl698qhDHt4vvdGmm6cjQjTDzpwshFSqzU11"
    "fwLm6+x1ty9noZw5rGnfXgsVL/7oTmYX5rzcZveH1KI/e8XBmT08LLgbhT66JUMfWctt0qkXFYUx9ifsi2D1q0O3NEUAFTF3"
    "w9yGZgyy87PaLiaC7bYmb6oxHVePmfN0bWQIK2UuUzoi8B8ER3QB"
)), dtype=np.float64).reshape((16, 10)).copy()
weight = np.array([0.9049335100123547, 0.6520184581094371, 0.524926524264954 , 1.5032346272939088,
 0.6278694233544275, 0.5615512234905988, 0.6918607204958019, 1.7578439426151762,
 1.6254560089309258, 1.3815860335135193], dtype=np.float64).reshape((10,))
g = np.array([-0.9358370597968019  ,  0.7273694594128494  , -1.0369606135704834  ,  0.006031764975215101,
 -0.35324239500534027 ,  0.633048201289159   , -0.6904305786204649  , -1.3146849804106937  ,
  0.5540214762121524  , -0.608487730596134   ,  1.955511884775871   ,  2.3370027144292864  ,
 -0.2318493435830808  ,  0.5050441429996295  ,  0.385370756474216   , -1.6621752666973433  ], dtype=np.float64).reshape((16,))

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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='none', soft_label=True, axis=-1, use_softmax=False, label_smoothing=0.0, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.array([              np.inf,               np.inf,               np.inf,               np.inf,               np.inf,
               np.inf,               np.inf,               np.inf, 3.238511356121698,               np.inf,
               np.inf,               np.inf,               np.inf,               np.inf,               np.inf,
               np.inf], dtype=np.float64).reshape((16,))
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
