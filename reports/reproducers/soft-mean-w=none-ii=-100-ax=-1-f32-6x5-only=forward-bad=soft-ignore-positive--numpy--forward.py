# xent-parity reproducer: numpy 2.4.6 on cpu, forward
# case soft-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=soft-ignore-positive
# API: numpy (textbook implementation, in the case dtype)
# verdict: bad-input-accepted: invalid input (soft-ignore-positive) accepted silently: returned 2.110906
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[ 1.0614808797836304  , -1.050573706626892   ,  0.6706188917160034  ,  1.877487063407898   ,
  -1.001523733139038   ],
 [-2.0432608127593994  , -0.8470099568367004  , -0.8309206366539001  , -1.554548978805542   ,
   0.1408941000699997  ],
 [ 1.6640193462371826  , -0.015804627910256386,  1.2245529890060425  ,  1.4048962593078613  ,
   0.029854632914066315],
 [ 1.8988213539123535  , -3.586284637451172   , -0.5241409540176392  , -0.8995590209960938  ,
   0.47720736265182495 ],
 [ 0.33857017755508423 ,  0.37212708592414856 , -0.427750825881958   ,  0.8532069325447083  ,
  -0.4116162061691284  ],
 [-0.2649438679218292  , -0.8565454483032227  , -1.6544994115829468  ,  0.6283693313598633  ,
   1.5795494318008423  ]], dtype=np.float32).reshape((6, 5))
label = np.array([[0.3371489346027374  , 0.24090300500392914 , 0.18343648314476013 , 0.18033316731452942 ,
  0.058178409934043884],
 [0.15364404022693634 , 0.30296027660369873 , 0.019870540127158165, 0.2088189721107483  ,
  0.3147061765193939  ],
 [0.17322160303592682 , 0.3534287214279175  , 0.12508291006088257 , 0.2918582260608673  ,
  0.05640853941440582 ],
 [0.011525270529091358, 0.05274784937500954 , 0.3499264419078827  , 0.2505013942718506  ,
  0.3352990448474884  ],
 [0.10041216760873795 , 0.17232654988765717 , 0.16025812923908234 , 0.54313063621521    ,
  0.023872539401054382],
 [0.05447128787636757 , 0.025989463552832603, 0.7194632291793823  , 0.07105618715286255 ,
  0.1290198266506195  ]], dtype=np.float32).reshape((6, 5))
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

loss, dtype = numpy_cross_entropy(x, label, weight, g, ignore_index=1, reduction='mean', soft_label=True, axis=-1, use_softmax=True, label_smoothing=0.0, want_grad=False)

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
show(loss, expected, 'float32', 'an error: ValueError: ignore_index: must not be > 0 with soft labels (the contract forbids it), got 1; soft labels never ignore a position')
