# xent-parity reproducer: optax.safe 0.2.8 on cpu, forward
# case soft-mean-w=none-ii=-100-ax=-1-f32-4x6x5-api-defaults
# API: optax.safe_softmax_cross_entropy (soft and smoothed labels)
# verdict: divergent: matches convention unreduced-by-default, not canonical (canonical: shape [4, 6] != expected [])
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoB4AEf/rDCaL64ypw+DLDdvnqlgb7oX04/UKrNvpr76j1aTYi95zjDPtcqJD97r/2+H32BvhzB6j4csji9pUIFQHHOjT9g"
    "N8q+5y7Wv6R+9D3BNl8+uQUFv3cKfj4m3OS+sD3tvsWaK754My2+eApaPw07lT9VFvS/K5OJv/Cdjj8iQFw/fzo2P12+CMCM"
    "zjw+eigAQLA8Kz61x9o/LEn3vtcDnT8FcOi9S0XIvjz1Mj4CTW+/DkvGv3AZ4b+pDJa/N30JvgwB0b90N46/6n/Zv+c5wj8u"
    "3JC85RHtvzmKMj+vP9O+URkiv12dvD931Pm+VFk5P9SQ1r+IvpS+QIsJv7rsJL/r4ne/IXbvv8jklz+47Y++t/gGvxajkr1/"
    "G7E/W3ypP9OWjD3fD488kM+Jvxmk7L/nQYC/AoE4P2wz2D/Jzh2/4wKDP+XIk75I7jg/JNI2P+GsBb8LLiA+jH6QPo8wib9v"
    "lMc/P9B/PzHRxr4+1os/b2maPs+1jr5vB/W+6689PfWuxz1c/WE/+weAP59cEL/mh2q/1LWzvjokdr78Qyk/m2CzP7IJyj0e"
    "3g6/aouXv5fB8D2SA46/kqPtvkeGLr7Gr8U+isSOP4FKb7/5Ona+ydNoPzzPDj5R7aQ+M7QMPy6x8yA="
)), dtype=np.float32).reshape((4, 6, 5)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoB4AEf/tZflj1Yo9k9FtlMPh0JhD6Mibk+3qSyPiTpcz4cccE95TLGPSD7Yj6RI6I+2S5uPPlUZj4G2Js+7NAOPjH8Kj5E"
    "JpA8h10NPkQ+jT2XwBs/tk6TPixNhT6IUCA+jqknPibOBj4OPpM+wXGQPEiSBj4cRQM/1ztPPXVXWjwoyyw+ZijcPulumz6G"
    "waw9BPzPPTxZlT4lW+0917aePkQ0OT73Fwg/BdvHPV6b8jykkec9ZJZpPiRW/zxI8t07n+4rPp/aQz9mZO48pMwcPzvKgz2V"
    "Xqk9TM7tPcij/j3YEDk+j/ExPnMpIT63wY0+tlBYPgqZzD797J88jofWPI7VTD7mlLU+jIJEPRanwD4uSHQ+fpAtPoW4Kz6r"
    "uvE92fonPopiED/Xzho+87QzOwwEWj4Ywos9ejriPNfxLz5x+AQ/TMmCPSdp9j0pdm0+rTaiPVI1AT+7hbk+x1HYPZiLmD6K"
    "U+89YxXwPaBTlj6JkIo9R5vJPkH3lz1O3i4+zAXxPakGgjxelDU/Nt5XPYDm1T2Elao+qkA5PhbF6T5otUo6afvpPBJsxT06"
    "bxc/oHwqPclDoz0DTEM+lkRYPsDLnD24Qwg/f1iCPdQ07j3KveQ+iWMWPjp3nT6i7a4947lbPHo30hY="
)), dtype=np.float32).reshape((4, 6, 5)).copy()
weight = None
g = None

def optax_setup(platform="cpu"):
    """jax as the comparison needs it: float64 enabled, matmuls at full precision, the platform."""
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    jax.config.update("jax_platforms", platform)

def optax_loss(x, label, weight, *, safe, soft_label, axis, label_smoothing, ignore_index,
               reduction):
    """The loss of one case in JAX: optax's per-position loss, ignore_index, class weights,
    smoothing and the reduction composed as JAX users write them. `axis` None: optax's default
    (the last); `ignore_index` None: nothing ignored; `reduction` None: per position."""
    import jax
    import jax.numpy as jnp
    import optax

    nd, e = x.ndim, label_smoothing
    along = {} if axis is None else {"axis": axis}
    axis = -1 if axis is None else axis
    C = x.shape[axis]
    wshape = tuple(C if i == axis % nd else 1 for i in range(nd))

    def dense(q, where=None):
        if safe:  # safe_softmax_cross_entropy has no axis argument: the class axis goes last
            last = (axis % nd if nd else axis) == nd - 1
            return optax.safe_softmax_cross_entropy(x if last else jnp.moveaxis(x, axis, -1),
                                                    q if last else jnp.moveaxis(q, axis, -1))
        if where is None:
            return optax.softmax_cross_entropy(x, q, **along)
        return optax.softmax_cross_entropy(x, q, **along, where=where)

    if soft_label:
        q = label
        if e > 0:
            q = optax.smooth_labels(q, e, **along)
        l = dense(q)
        if weight is not None:
            w = jnp.sum(q * jnp.reshape(weight, wshape), axis=axis)
    else:
        valid = None if ignore_index is None else label != ignore_index
        y = label if valid is None else jnp.where(valid, label, 0)
        if e > 0:
            q = jax.nn.one_hot(y, C, dtype=x.dtype, axis=axis)
            q = optax.smooth_labels(q, e, **along)
            l = dense(q) if valid is None else (
                jnp.where(valid, dense(q), 0) if safe else dense(q, where=valid))
            if weight is not None:
                w = jnp.sum(q * jnp.reshape(weight, wshape), axis=axis)
                w = w if valid is None else jnp.where(valid, w, 0)
        else:
            where = {} if valid is None else {"where": valid}
            l = optax.softmax_cross_entropy_with_integer_labels(x, y, **along, **where)
            if weight is not None:
                w = weight[y] if valid is None else jnp.where(valid, weight[y], 0)
    if reduction in ("none", None):
        return l if weight is None else l * w
    if reduction == "sum":
        return jnp.sum(l if weight is None else l * w)
    if weight is not None:
        return jnp.sum(l * w) / jnp.sum(w)
    if soft_label or valid is None:
        return jnp.mean(l)
    return jnp.mean(l, where=valid)  # optax's own position mask, as its losses take it

def optax_value(x, label, weight, g, *, want_grad, **loss):
    """The loss, or its gradient by jax.grad (jax.vjp with the cotangent `g` of an unreduced
    loss)."""
    import jax

    if not want_grad:
        return optax_loss(x, label, weight, **loss)
    if g is None:
        return jax.grad(lambda x: optax_loss(x, label, weight, **loss))(x)
    _, pullback = jax.vjp(lambda x: optax_loss(x, label, weight, **loss), x)
    return pullback(g)[0]

def optax_cross_entropy(x, label, weight=None, g=None, *, dtype, want_grad, mode="eager",
                        **loss):
    """One case through optax, op by op (mode "eager") or under jax.jit (mode "compiled", the
    case's parameters static); labels as given; numpy out, with jax's dtype name."""
    import jax
    import jax.numpy as jnp

    dt = getattr(jnp, dtype)
    xj = jnp.asarray(x, dtype=dt)
    label_j = jnp.asarray(label, dtype=dt) if loss["soft_label"] else jnp.asarray(label)
    wj = None if weight is None else jnp.asarray(weight, dtype=dt)
    gj = None if g is None else jnp.asarray(g, dtype=dt)
    fn = (jax.jit(optax_value, static_argnames=("want_grad", *loss)) if mode == "compiled"
          else optax_value)
    out = fn(xj, label_j, wj, gj, want_grad=want_grad, **loss)
    name = out.dtype.name
    return np.asarray(out.astype(jnp.float32) if name == "bfloat16" else out), name

optax_setup(platform='cpu')
loss, dtype = optax_cross_entropy(x, label, weight, g, dtype='float32', want_grad=False, mode='eager', safe=True, soft_label=True, axis=None, label_smoothing=0.0, ignore_index=None, reduction=None)

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

expected = np.array(2.0555910761597356, dtype=np.float64).reshape(())
show(loss, expected, 'float32', 'float64 reference, canonical: the documented formula')
