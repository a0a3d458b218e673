# xent-parity reproducer: paddle 3.2.2 on cpu, grad
# case soft-none-w=random-ii=-100-ls=0.1-ax=1-f64-4x6x5
# API: paddle.nn.functional.cross_entropy
# verdict: error: raised ValueError on valid input: (InvalidArgument) Input(X) has error dim. X'dims[2] must be equal to 6. But received X'dims[2] is 5
#   [Hint: Expected x_dims[x_ndim - 1] == N, but received x_dims[x_ndim - 1]:5 != N:6.] (at /paddle/paddle/phi/kernels/impl/matmul_kernel_impl.h:253)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBwAM//FUR1cwwdtM/jXq3X+Qf4r+DbbwOgnDSP0op7eWOnOc/K+jiiNIMAcAWN/0jr2Tjv/CAqYJ3/t4/QMvqJzRP6z85"
    "Neta7IT7P+HK65vkPgDAt7nlZAxs7r+rBVOIycbUPwzSXh+FY8+/oi81bxVbv7+TDsarBqD4P8sQXO/l3/M/HwI8CV4k+j/u"
    "N/r8R2XCP+oO/8STb9m/ILpiYpYh7D/byyrCWLXTv60Msc9S+ve/OAzAr5fP9D9hyRBBs8u8v8taOGbH2MI/KZ4ng4Ip1L91"
    "RFPiSMm9v7bNItuCY/O/ZheoRry62j8aY+/N4T3fv4EVbh0zncg/+6Lqmd7m7b/5RjDgEVfNP/gdASLhk32/xBrh1EfXwr9/"
    "fg0uIUnhvwpPzQicJeA/Ucp2n+KFyT9FUi73gCzpP9agqJaX+fM/I6jH08PE6T+xH7VSJ9nwP8WGO1Kfjf0/yPNT5Yq+qb95"
    "pXVmKzK0v6yNY1sgZ/a/hoeNV9qqvD9EUyL3+cKXv9idzGpOMvK/2uJ7c6Fe9T/ie6zwIV//vzSYhg8yh+k/3CAT8OB+9b+Z"
    "qglZvcHWPzGGmOua/LY/ZxQ1/1Iy4D8nkgZ4+PnwP45hYPQdFsw/e1e8yunq5D9mK5YU1OGnv2r1xO40kfG/MjPREqNL3L/Z"
    "wTqRGdDlP0sq0Jc8rwXAfGzWV2VQ4z8gKYE+YrjlP4bt/bokK+Y/pgt2N5r83D9JxVj+OZTRPzP1lcvn/tG/xyzapCq9z7+W"
    "hD2N6yWtP487hqU0LNY/FeJ7FgIa879ui8Go2/POPzXRq/xPXPK/h51cxD0a879UbC3LxNDwv429cVZ7guw/6T2+GWb9/L+m"
    "NmFFlyz+v7PooRBE+tk/caGUTphD1r8HXq5WOuuuP24k3nhBhsK/XLtXxTAbyb9ScX5mri/lP/rK89zw8ek/XnGL0mB39r+p"
    "FQr6ennTv+4CzncrRPW//w6sxc7d6L+ytXEC0o8DQHJC6mZ94fE/0Dn0G5SO0z9SfB1T38r4P/bkTqknyPk/cFn2ao9Cqj9m"
    "reGRzC7oP/Vj1QCRP+M/4b2DmEuf6r8xQWTcBh7AP4kKc8mN3fK/CXn1vRubzL+a2IFc9z7dvzna1lGS2MC/Qxpus/Y+9r+1"
    "wxs7mvvyv90woPsPadK/VJO0oAxjAcCFTu7rAK/Bv4JLw94OMeG/AOKo9I7Eqb/W4ylm0ij6P5B8V+Jy5cO/qcAA4S2c07/c"
    "HVSG6YjzP1/yvp7XHfc/2cUj+pBA5T9YYB0szFIEQJDkEF0="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoFwQsw2wcAB+Ct2/pgnJ7RlXaME6UbbbxO0B9lx03csW62OrqyukyUeiQeM5wwpfWIR620aMWMNdTIQv4ihCzCQiIiHtEy"
    "EnV6R6+l9GH2fTsXvOoD+kRwK0xQb9TP40wM06y6ugMvxofLhxcZWBrr91DEE1jIWafqbjTg/PrLapq/HHq/xiEimIOr9XOO"
    "NgwuOGl9kqh4ITKzXm2trbQiWuhDy3lD4K3A1i0gJwO8h6lOdbMaHI8oCLVWi/Hx5vfC1xMzKByynmTF3sF/WwURqQFDsDzv"
    "Qf3V/A+UuiVTKhsnsetLZ663TcMzuujgZWoGODdjyHuRUwhpaW85Q1Fh3SX8lER/D5fLdEaZ1B7IFO6ua1NyMDX5rtLlBXD3"
    "ftL2sxUoLLSdm+NMQ6xj8WmpedDNfhAluzsP8qCqOzGXQFWw04A0qBKKgmZrbbkKZ1+5OGtZYjwqtnohaepFs+2y5jqRhdX+"
    "CBovX4OHrH23535LEBmaJy5NiKEwbYjltyng+rOMSDMZwkxwy9rqUyF8rAOXbQyLEVxG2o+2mcVkUlWreKkFt+qe5ZUwOmHp"
    "bNzn8GQUpQE5Bil+QngfrfmL1CWBSPeVX1rSCA6wdvby8/QomdUVJSeKUfvgMTMmsws7DXQX23tSCIKe8t443oCX2tA73aIY"
    "DqWf3N9ckYJMHvywnJqNIKQK466oEXfQQrnSpAJbmSDNv3UfFuKFCpOgZbAZJtteewRI1zTNjIQONM0b7i7Ks+B1bPH5MDED"
    "usHbL+Un+jC1cS6iYUCJaXYN2z9DAEUfnRsezYGdmckmyV4O45GX+qDoCvw5OubgGSgBq5dfqjKewdUjNhbi7VHI5BSu3ddK"
    "XDevmk8ic7H6OV/vmd6JtmNxz2JGhbgovLhlFTYGdx+ac3bkbXzbGOorPN2FlMrOb9heE/glb/5QJLMN4+WUCyGXlDAro6U5"
    "VvfC9XC+Fe/ACHYYnMcifykqKPY2CotaUJ/MOhduxoB++nbWu+HDuDRnEE8K7MGhd9gB18gEWtvsr+wkryDV49/goUYhwkjM"
    "tQYjCb7oaA6sC+8GNTf95OsNJdrD2sWVYXcxXkCNC63igR/5D5G8KYFeXfv7j6fU6MhwMD1+bhDN+2ej/HnZ0DqairRKFUoe"
    "DL7/UYsY733q7kvK1qDj5Ge7bLoMeyl0h9/U4yDUBDXORIP9pNzDS7FqHOH/YFXJ7UEthWGp3R6AoNjuUT1bgBMDRulO3/0N"
    "gyJFjUtaF/rXuWXJVt0QhQiKvWNl+B9TXuGC"
)), dtype=np.float64).reshape((4, 6, 5)).copy()
weight = np.array([1.927188956197919 , 0.7179080768322725, 1.5820677622958275, 1.9697867329338663,
 1.187893056340517 , 0.9083173496504398], dtype=np.float64).reshape((6,))
g = np.array([[-0.5023375331836442 , -0.8127227350788998 ,  0.471477458502467  ,  0.4338762993283209 ,
  -0.7006397784899995 ],
 [ 1.5814200449090783 , -2.2002812439642536 ,  2.326977709976637  ,  0.18575384000411663,
  -0.8089500619013892 ],
 [ 1.3658837263694958 , -0.6786082726537295 , -1.1381367289601692 , -1.041970550978     ,
   0.7259830356866417 ],
 [-1.5076536662668132 ,  0.4635058344416225 ,  0.9722606911714395 ,  1.7491453050054262 ,
  -1.1663758542702463 ]], dtype=np.float64).reshape((4, 5))

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
grad, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='none', soft_label=True, axis=1, use_softmax=True, label_smoothing=0.1, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False)

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

expected = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBwAM//GeIxsof3Ki/bzK+WXsW2D855QdV9zukP1OO01ICprY/KKOsl1gCuD/ckkiUWkWZv9fAkrZ16Kw/BCC+lcWbvD/R"
    "M86+iobNPwbhJo/Yabk/rgfzIiSXdT/PIYvycQ6hv+MtKpk+i6E/Agv9f7W7wr/YfLEw7QzXv2EF5e9uS7m/PzOVPlxo4b/W"
    "NtXOpBeNv7Pfvd1wBWa/T2HLVUTvPL8ADQDfXJnFP8yL/TXrbEy/B/Ylqd2uqz8ke1VgVBG8vzfDjqL0K7S/XoWbutAqYL/n"
    "fQxBZprCP9++x2Pt2cy/outk0ln0rr/lfmvBM4jPP5aTwbajQdk/roQmYOuF8z+cjz+KW8VyP17wZ2ozr5U/J/wY6NY4yj/6"
    "2hSBDlq5v9EnkojA6sO/+/d8AJBV0T9s+Us2uu+HvzpFPyPvC8U/ufFsiRRR4D/ZeRWKCXevvxifTfzyN/U/gmO1njUdST/z"
    "6H+mEgytvz3AWoLDwea/S11CZ+8Yw79GVSy4PGejPww+hmbQHqK/xzpEC6qYzb9f1pV+dA7UvzN6ouODP6+/uITAk+Bs/r93"
    "Z/rWt/qDPzIp0rPqi5G/FC3qs2QJzD/IaHztgV/pv5sVIFgpxtA/GFOvygmAjz9kjvP/M2+wvy7o8XASl+C/KNDi8nfmyD8E"
    "NpJXnjrSv7fIJHiiquo/8JEbGvZOyD/WoNyp0cTrP2SqOpUI0c+/WnCj3lJ9zj+UMFweyM/Kv6UaYB2L17q/MrZli3YPxT+1"
    "dbiBt663v/1AUJzxm7A/crFrimKho79NH3a+YJmuP6XntZKrmOO/TvSLyPWCxD/kdoZfQWvTP34LSosdrOO/lz4aux+2pL+y"
    "o3BzNU3IvzznTRKBORc/jygbrRIEsr+KfwzEzqnHvyYxPr3pJrG/utSbJ7h00j/FjqJXCT+Mvyc/EzNEFdC/pKeY0dtnyz+/"
    "kI22LyKjv/VD5jmZrX4/+AcZIvOAjj+jpGzlp1nkP0ue6hCWr9U/tezMUMwFqD8a9xr0Umyov0WdyAgrxMs/Zw7/RHw6wb9G"
    "UrR0y4nIP7u56ZjFD80/KXtnp/ANlL8c7I96cEKEP1IdSJ8cPsm/wvNj7Tte5b9PdcZt0krCP87S3soiOMC/lHdpWjDDxL9N"
    "c0yEnUzFv6+cCMHVk+i/UK1XVxOT0T/8wzuT5GvFP604067I8cW/pgv1lECZ1b+dPIG/AvXnP3Li2V+h8L4/GU88/iGdkz92"
    "B1ONL4m3P84jy/wXkck/c8AjJUQLxD+D7V+eoP7pv4gz+vI="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
