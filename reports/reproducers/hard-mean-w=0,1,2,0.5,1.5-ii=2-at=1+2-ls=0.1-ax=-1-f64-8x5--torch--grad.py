# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-mean-w=0,1,2,0.5,1.5-ii=2-at=1+2-ls=0.1-ax=-1-f64-8x5
# API: torch.nn.functional.cross_entropy
# verdict: divergent: matches convention smoothing-weighted-torch, not canonical (canonical: 20/40 elements beyond the bound at (3, 2): got -0.018727391940369844, expected 0.00024782550875468787; max error 3.5e+17 ULP (abs 0.0427, rel 76.6); bound 5.95e-18 abs = 110 ULP)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[ 0.6359160795722276  ,  0.8805293795120096  , -0.1614119700911026  ,  0.7383128962261735  ,
  -1.8195054246160534  ],
 [-0.2080005171915678  , -2.6345663216122257  ,  0.24468167500546073 , -0.49715505724755393 ,
  -2.0012672896741286  ],
 [-0.5627771121031361  , -0.30509374984925125 , -0.49983046633541095 , -0.2784718031172097  ,
   1.9319080645180662  ],
 [ 0.05595931506218457 ,  0.8810593354818512  , -1.972878833234286   , -0.0170626479596705  ,
  -0.13894400666585605 ],
 [ 0.4024081870480587  , -0.7214044397274793  ,  2.3594880744223796  , -0.8725239683645325  ,
  -0.21503871405289712 ],
 [ 0.019234395934716427,  1.6935853793873752  , -0.2722201745504072  ,  0.8631459767947749  ,
   0.6532533951767265  ],
 [-0.7896754329673621  ,  1.1133574749961095  ,  2.448608358848097   , -1.2970415509881528  ,
  -1.3306423030020058  ],
 [-0.5887667830243922  ,  0.8089749538817758  , -1.7036510424958322  , -1.2465350217551765  ,
  -2.2897834695441897  ]], dtype=np.float64).reshape((8, 5))
label = np.array([2, 2, 2, 0, 1, 0, 2, 1], dtype=np.int64).reshape((8,))
weight = np.array([0. , 1. , 2. , 0.5, 1.5], dtype=np.float64).reshape((5,))
g = None

def torch_setup(device="cpu"):
    """Pin torch's numerics: one thread, deterministic algorithms, no TF32."""
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return {"torch.use_deterministic_algorithms": True, "allow_tf32": False,
            "num_threads": torch.get_num_threads(), "device": str(torch.device(device))}

def torch_tensor(a, dtype, device="cpu", requires_grad=False):
    """A numpy array as a torch tensor, floating values in `dtype` (bfloat16 carriers exactly)."""
    import torch

    t = torch.from_numpy(np.array(a, order="C")).to(device)  # keeps 0-d arrays 0-d
    if t.is_floating_point():
        t = t.to(getattr(torch, dtype))
    return t.requires_grad_(requires_grad)

def torch_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, use_softmax,
                        reduction, ignore_index, label_smoothing, want_grad, call="functional",
                        mode="eager", passed=None, probs_from_logits=False, device="cpu"):
    """F.cross_entropy (call "module": nn.CrossEntropyLoss; mode "compiled": through
    torch.compile), nll_loss(log(p)) for probabilities; the loss, or the input's gradient by
    autograd, as numpy with torch's dtype name. `passed`: the arguments to pass (None: all)."""
    import torch
    import torch.nn.functional as F

    xt = torch_tensor(x, dtype, device, requires_grad=want_grad)
    # torch has no class-axis argument: it reads the classes at dim 1, so the class axis is moved
    # there (and a label array that has the axis with it), unless the case leaves it to torch
    move = (passed is None or "axis" in passed) and xt.ndim > 1

    def at_dim1(t):
        return torch.movedim(t, axis, 1) if move and t.ndim == xt.ndim else t

    inp = at_dim1(xt)
    t = at_dim1(torch_tensor(label, dtype, device))  # hard labels as given: int64
    kwargs = {"weight": None if weight is None else torch_tensor(weight, dtype, device),
              "reduction": reduction, "ignore_index": ignore_index}
    if use_softmax:
        kwargs["label_smoothing"] = label_smoothing
    if passed is not None:
        kwargs = {k: v for k, v in kwargs.items() if k in passed}
    if probs_from_logits:  # the probabilities as torch's own softmax makes them
        inp = torch.softmax(inp, dim=1 if inp.ndim > 1 else 0)
    if not use_softmax:  # no probability-input cross entropy in torch: the users' composition
        inp = torch.log(inp)
    if call == "module":
        loss = (torch.nn.CrossEntropyLoss if use_softmax else torch.nn.NLLLoss)(**kwargs)
    else:
        def loss(z, y):
            return (F.cross_entropy if use_softmax else F.nll_loss)(z, y, **kwargs)
    if mode == "compiled":
        loss = torch.compile(loss)
    with torch.set_grad_enabled(want_grad):
        out = loss(inp, t)
    if want_grad:
        if g is not None:
            out.backward(torch_tensor(g, dtype, device))
        else:
            out.backward()
        if xt.grad is None:
            raise RuntimeError("autograd produced no gradient")
        out = xt.grad
    name = str(out.dtype).replace("torch.", "")
    out = out.detach().to("cpu")
    return (out.float() if name == "bfloat16" else out).numpy(), name

torch_setup(device='cpu')
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, use_softmax=True, reduction='mean', ignore_index=2, label_smoothing=0.1, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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

expected = np.array([[ 0.0000000000000000e+00,  0.0000000000000000e+00,  0.0000000000000000e+00,
   0.0000000000000000e+00,  0.0000000000000000e+00],
 [ 0.0000000000000000e+00,  0.0000000000000000e+00,  0.0000000000000000e+00,
   0.0000000000000000e+00,  0.0000000000000000e+00],
 [ 0.0000000000000000e+00,  0.0000000000000000e+00,  0.0000000000000000e+00,
   0.0000000000000000e+00,  0.0000000000000000e+00],
 [-3.3019548950336444e-02,  1.9170348446755858e-02,  2.4782550875468787e-04,
   7.2699458696141609e-03,  6.3314291252117398e-03],
 [ 4.0196019392320419e-02, -4.0216168465218355e-01,  3.3979284746122640e-01,
   4.6823194631299301e-03,  1.7490498335506741e-02],
 [-3.7793206677388246e-02,  2.0565484968860369e-02,  2.0982737423173576e-03,
   8.4507689261612891e-03,  6.6786790400492260e-03],
 [ 0.0000000000000000e+00,  0.0000000000000000e+00,  0.0000000000000000e+00,
   0.0000000000000000e+00,  0.0000000000000000e+00],
 [ 6.5737425669777125e-02, -1.1542244045063837e-01,  1.5449285302440869e-02,
   2.9670625620700098e-02,  4.5651038577203054e-03]], dtype=np.float64).reshape((8, 5))
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
