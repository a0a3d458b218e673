# xent-parity reproducer: paddle 3.2.2 on cpu, forward
# case soft-none-w=random-ii=-100-ls=0.1-ax=0-f64-4x6x5
# API: paddle.nn.functional.cross_entropy
# verdict: error: raised ValueError on valid input: (InvalidArgument) Input(X) has error dim. X'dims[2] must be equal to 4. But received X'dims[2] is 5
#   [Hint: Expected x_dims[x_ndim - 1] == N, but received x_dims[x_ndim - 1]:5 != N:4.] (at /paddle/paddle/phi/kernels/impl/matmul_kernel_impl.h:253)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBwAM//MbnNPxnQuM/OxhqF7iKcr//5cETx5Dqv+ynwrGw9cg/o7QRTAlG7b/W3olTVf3ev8xYUse9IwHAjZX4QbIr6b9y"
    "yPtbYlviPy3O5NNemOK/PEdCfGaU+j/Jca0FMg7zP3SkCiMSveu/eHaqB/qLvr8XRBzwioTLv5zBDH47cva/tCTebpSstT8f"
    "Jwg6p6m2vw9xvGoVdcy/PheqxRYQ6z+/2sOD8bHuPwZgs+VgM9c/NfyNaw3l5z+Tb65AswTcP6PW85mSRfK/lhbJwu1K+L8o"
    "2Y6nFHnzPxLpMI1A+fU/NE86ZK5X1T9lerGeidjfv8Xv/S793+y/vQFH4Z0Axr8o/jIUEGcBwC7gJ16aidy/CuPEAYWWvr9H"
    "9WLXDeXyvwXnzkIlJeQ/djaSEEl96b8XsnAVH3DxPyAoTekuUeM/gCxvuBFZp78FpRJ7k5Tvv6Oty0OTGPS/PuoFMbzS0D/H"
    "SaS8+/ngP1+QU+tB7dO/mdIixk3i9r9n3bPnCMD5P5raYI5lJfs/vdErThax5D94z1TBeqjeP1oHqOPKOPK/DZDWxf/N/r/s"
    "hLrBt278P+gCaez63+A/d9Yrz6vF5L8FgSaUHy/ovzZ70cC1Bpg/1HgECuwC9L/5CS7707LlP8HLNN7n4fk/DQO7WPRZ8T8v"
    "9FH45JWjP46Z1GXkU/a/6dhKwrdm9r/bElz4WY2uvzAiO9kyte+/21pxLKYc5r97EaYg7X3Kv0OE2zroQvO/dAvyrmaXyr+V"
    "tZRYixn7P8Evov+msPM/XLrdH4xhw7+utojuo+vnv2emglLx2cG/p9o3x42aAcDbHidFaKnpvwqr/DpWN/E/gjT4Phb/7z/v"
    "5TXTW7nzP/QgKlNuKwTA9SBhv7964T8UgJka8RjmP8Iss53PNcQ/qzsPysQ7+z/6TAFhr9nIv7iyBurQR+W/lo6P1Rrw8T/P"
    "9PddU+7dP6dvIj4oQ+Y/9TECKOqDfr+2qbo6ssPEP74tMbAcevQ/tkowwwbZ+T/33vuA1MLuP0qkei7W9fI/0B87iCT72b/t"
    "UQ3MROnvv9VsTDsM/O6/nh/qzYwO+z/PH2xWZujxv7/XAmNnO+e/xqlTELlG9L/2ROWcqDcDwNkppg/zceO/EaByoWBcj79s"
    "MnkjraTsPxVOyP/Vg+s/QW6S6o1S6j9oUQ446byZP2wE61YNfeu/LekGl8vo27+zYdivzsTLP33Uz/Xbc+c/xlSZZKw60D/G"
    "vIFwKYffv8WNsP4pTtu/ZKoDDvytzD+6HwTFmzTwP5W7Edw="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoFwQk0GwYABuBtHn2v3liPVPfwtN0Q9yaH6cI/rI5ItWtHsNV62N7mOcJorenKKlQdQQlaXbes5hVDioq6SiSSxVFJkJQ5"
    "Qoq1jvYxqoR9X1rmFd/CkxIUWQSkBdZmwnt3G994aRQPjEhDJSQV/ot7I3XtbMJ1pxLrEqEaWhf/uuE3Sui4XHL0sUEcT7ts"
    "Ty3QIDNFWVo82QLSrLrgxKoE9h+4HezIFEO7xzrEUNiHdZn+wlPnx+CV0+zy9/WB5OJjONagxUoCpXeZmY+tjylHpYkqBIW+"
    "Mye/ocOm4Qzxl6+z4NNk/qHKTwzXs2knDxIl2GIcirsoGsQ3CX1U94xhWK82xH4VKEVH983il4p6kLm03YSwKYhKF7u2pgcQ"
    "P136g1dFNJaCJXOdK5UYanbKj87rRELgdeNcRg8odFu+xyQfHjZEk8tJI3j+bbz/d6sy3NVF2gWuyTFuFRXiebEQedG8fxJD"
    "pTjN/4x83KAa6tsvNcFBAhzYYIXP1o6j/iOTe/ntYxAQRvVdJh2Iyfk0+WrNEEzvXFUc+XwafpGF/0a/eoQeMbP6LaII27cs"
    "eWPJrXBfKFtjej6Ez3LIQHD1LMLHqD8zdkbw4lo3mzckgbjyFuVc0AC4Dr6Ln8QK8auByftElgysa/7kPZ5zGBcQvmCeb0Rk"
    "vM1MZZIM6+r7LLYRB5t/2nLunO6H6o8Yo+ygp7B3CztaNKFDfbN8hpjbiMbFL3Mzq9shfbCTmHdCC9b9VKfUjQGELrj6183+"
    "DUUIpZC3XYtiZnjBLhct1s9vazRVtSBlIOs5VQXC3D3B1KtOVOwl77TZKWBIIwu8ktVoEbYbM5dFCNgKvWEV2Y1CA4NTY2/P"
    "I2OF0x1cogJHG1X2eKQH3xs3LNXYDsAi1NHFY0eG1wzjcbt0NapUbYkWcb1wdvM0py9OgHfFkZhC+h28J3RCubUEDPpw5UNb"
    "Cc69WMgLna6CUYPV4QpWH0yteM/WNjTg0DxMkrpUMPedPOVRKwY9wjFeVD8OX5ffVs00/TAou5niHdODKbOFM0b8HqwJ3aSx"
    "oxPQ7zob7GM2hWe8bPF7hmVIb3LTFdXN4ycqN8AyVQBnOue1VboC2xPeI6brGtzNOqzfaynDar/jfmp9HWRFgwvtKhmO6KNs"
    "iNlC6H/ctviLoIQfl31bIWmG0CKH0Lu/AkmW1mEOZ5S45KWgpWwpwUhsbJVHKEFzzpM/6m6Cb0uOw9y7Mzi0z9adreODXV7D"
    "kXs/QZdzW7+APYXNkWz/A5fmQbkQ0SqyHMb/yDPc5A=="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
weight = np.array([0.8487207750072704, 1.954052143974848 , 1.2801451345685244, 0.8655338223125124], dtype=np.float64).reshape((4,))
g = np.array([[ 1.6803859502306944  , -0.2155407104410151  ,  0.5024846048970382  , -1.0258327905831137  ,
   0.814856513820392   ],
 [-1.322381075571558   , -1.5747192600180704  , -0.9650793805364565  ,  0.37884110450670516 ,
  -1.2209337534245983  ],
 [ 0.757340501760972   , -0.016201492431330237, -0.4508897306976456  ,  0.617518551896658   ,
   0.627432794093634   ],
 [-0.1959671957929459  ,  0.5527120566646486  ,  0.46466534065633275 , -1.5727031048600444  ,
  -1.139383527392058   ],
 [-1.0314240025446035  ,  1.673936546956199   , -0.05661366316779106 , -0.5685195426187639  ,
   0.28038508295461423 ],
 [-0.21760847894947272 ,  0.9009705663879598  ,  0.14107362415689462 , -0.7021409039372483  ,
  -0.26909877999793175 ]], dtype=np.float64).reshape((6, 5))

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
loss, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='none', soft_label=True, axis=0, use_softmax=True, label_smoothing=0.1, want_grad=False, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.array([[1.6714755372210637, 1.4808700781391073, 1.343954838628801 , 2.2036712219862005,
  3.1361685255552536],
 [2.1059922745739006, 1.9742713700813375, 1.4614246531269306, 1.8870464945277727,
  1.904837391773815 ],
 [3.1758249034642043, 3.451325275063528 , 2.0446596741403225, 1.9447931304517463,
  1.8103733647287203],
 [1.8754888110710013, 3.49170046618743  , 2.232364572568094 , 2.2020681980103336,
  2.4827027441249383],
 [2.0922002127864414, 2.533924991226118 , 2.1799772573105236, 1.9796176392999345,
  1.4871992924509265],
 [3.8285729505365733, 1.3466558099208321, 1.9175281613853121, 1.406029965257747 ,
  1.6687042715627083]], dtype=np.float64).reshape((6, 5))
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
