# xent-parity reproducer: numpy 2.4.6 on cpu, forward
# case hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=label-negative
# API: numpy (textbook implementation, in the case dtype)
# verdict: bad-input-accepted: invalid input (label-negative) accepted silently: returned 1.993642
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[ 0.5098291635513306  ,  0.014487956650555134, -0.9172040224075317  ,  0.09232749789953232 ,
   2.253434419631958   ],
 [-0.6272626519203186  , -1.6590546369552612  , -0.4530947208404541  ,  2.4306559562683105  ,
  -0.5906137228012085  ],
 [ 0.05023450031876564 ,  0.9398043155670166  , -0.14538025856018066 , -0.2225324809551239  ,
   2.15963077545166    ],
 [-2.1869328022003174  , -1.570543646812439   , -0.2546404004096985  , -0.5996906161308289  ,
   0.3036726117134094  ],
 [ 0.4111691415309906  ,  0.21458369493484497 ,  1.2159408330917358  , -0.4345638155937195  ,
  -0.2978579103946686  ],
 [ 0.10202040523290634 , -0.9705715179443359  , -0.71904456615448    , -1.229217529296875   ,
  -1.0334548950195312  ]], dtype=np.float32).reshape((6, 5))
label = np.array([ 0, -1,  3,  2,  0,  0], dtype=np.int64).reshape((6,))
weight = None
g = None

def numpy_cross_entropy(x, label, weight=None, grad_output=None, *, ignore_index=-100,
                        reduction="mean", soft_label=False, axis=-1, use_softmax=True,
                        label_smoothing=0.0, want_grad=False):
    """Straightforward cross entropy (and its analytic gradient) in x's dtype; returns the values
    and the name of their dtype."""
    dt = x.dtype
    xm = np.moveaxis(x, axis, -1)
    C = xm.shape[-1]
    if use_softmax:
        shifted = xm - xm.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        logp = shifted - lse
    else:
        with np.errstate(divide="ignore"):
            logp = np.log(xm)
    if soft_label:
        q = np.moveaxis(label, axis, -1).astype(dt)
        valid = np.ones(q.shape[:-1], dtype=bool)
    else:
        lab = np.squeeze(label, axis=axis) if label.ndim == x.ndim else label
        valid = lab != ignore_index
        q = np.zeros(xm.shape, dtype=dt)  # one-hot; IndexError for labels >= C, -1 wraps
        np.put_along_axis(q, np.where(valid, lab, 0)[..., None], 1, axis=-1)
    if label_smoothing > 0:
        q = (q * (1 - label_smoothing) + label_smoothing / C).astype(dt)
    # without weights every position weighs 1 (soft rows need not sum to 1); sums of float16 in
    # float32, as numpy's own mean does ("float16 results are computed using float32
    # intermediates")
    acc = np.float32 if dt == np.float16 else dt
    if weight is None:
        sample_w = valid.astype(dt)
    else:
        sample_w = np.where(valid, (q * weight.astype(dt)).sum(axis=-1), 0).astype(dt)
    with np.errstate(invalid="ignore"):
        per_pos = -(np.where(q != 0, q * logp, 0)).sum(axis=-1) * sample_w
    per_pos = np.where(valid, per_pos, 0).astype(dt)
    if reduction == "none":
        loss, scale = per_pos, (np.ones_like(per_pos) if grad_output is None else grad_output)
    elif reduction == "sum":
        loss, scale = per_pos.sum(dtype=acc).astype(dt), np.ones_like(per_pos)
    elif reduction == "mean":
        denom = sample_w.sum(dtype=acc)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            loss = (per_pos.sum(dtype=acc) / denom).astype(dt)
            scale = np.full_like(per_pos, 1 / denom)
    else:
        raise ValueError(f"unknown reduction {reduction!r}")
    if not want_grad:
        return np.asarray(loss, dtype=dt), dt.name
    with np.errstate(invalid="ignore"):
        s = np.where(valid, scale * sample_w, 0)[..., None].astype(dt)  # ignored: no gradient
    if use_softmax:
        p = np.exp(logp)
        g = s * (p * q.sum(axis=-1, keepdims=True) - q)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(q != 0, -s * q / xm, 0)
    return np.moveaxis(g.astype(dt), -1, axis), dt.name

loss, dtype = numpy_cross_entropy(x, label, weight, g, ignore_index=-100, reduction='mean', soft_label=False, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False)

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
show(loss, expected, 'float32', 'an error: ValueError: label: 1 value(s) outside [0, 5) and not equal to ignore_index=-100; first: -1 at position (1,)')
