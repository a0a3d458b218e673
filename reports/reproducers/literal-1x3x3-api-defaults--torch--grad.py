# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case literal-1x3x3-api-defaults
# API: torch.nn.functional.cross_entropy
# verdict: divergent: matches convention class-axis-1-by-default, not canonical (canonical: 9/9 elements beyond the bound at (0, 0, 1): got -0.3110657221584901, expected 0.01024224677547881; max error 1.95e+17 ULP (abs 0.343, rel 31.4); bound 5.82e-17 abs = 33.5 ULP)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[[ 0.5  , -1.25 ,  2.   ],
  [ 1.5  ,  0.25 , -0.75 ],
  [-2.   ,  1.   ,  0.125]]], dtype=np.float64).reshape((1, 3, 3))
label = np.array([[2, 0, 1]], dtype=np.int64).reshape((1, 3))
weight = None
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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, use_softmax=True, reduction='mean', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=(), probs_from_logits=False, device='cpu')

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

expected = np.array([[[ 0.05894006070248142 ,  0.01024224677547881 , -0.06918230747796023 ],
  [-0.09385321961631167 ,  0.0686122013325505  ,  0.02524101828376117 ],
  [ 0.011315378430474247, -0.1060578820682015  ,  0.09474250363772725 ]]], dtype=np.float64).reshape((1, 3, 3))
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
