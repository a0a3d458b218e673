# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-mean-w=none-ii=-100-ax=-1-f32-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 40/160 elements at (0, 3): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNqb/9PDhqvkus3Cmqe2DEDwv3CP3Z+UbXYgttXWZbZMb4zA4iBwsJjVrverhJ1b8Frbebe9wGo+zLhs+/TuE5uoVFu7Y+0/"
    "bA+lyIHVBxyvsLu4Y5mtUOk922a1g2Axp9Bjdmd9ptrUc760cVIutps254/tvqKDth73iuxUo+fa1v64Zhtlk2IDUmuUWm+7"
    "eL+XrbT+G7j9hbMd7PyzWO2Y4lQhds/Tt5PW77U19tMA84uiL0HslrK3m6lvZ/upmtdWhbHH1sR8hV3wK027Cc87bB3sd9qJ"
    "f39pbVGhaZuyjt8usnuWrc0uVVu/7Qtt31ZGgM2RyTMAmyPYsMV2pQzE7beMOWzFDk4Fs+Ve2NkxhrPZg9iW/cy2/hbttqsM"
    "ltmefBZqY/U637aIe4vN4e4qu8RVMbYR2bfBZk4PU7eD+aNtV6Hd0wmXbJ5uXQAWY2FqsJn3W9vOJmse2HwvhYV2G1fp2r5O"
    "fGc9K1jJ1rsv3UY6qNFm9q/tdrlbgsF6njw9AVa7KusFOLy+hL+3Vsn2BLsp+esFsNj3ZzG29wqswer1c93B6nN8G+1qFy+w"
    "dRI3tN3xdJrtUYcZds4Ze2wEV1ywu6M+w7bKSRmsnmumJTzcnbf2gMW2KsnZPnv0Aiwe1bLCjkHE3e6/iRFYbucOWdtV5yTh"
    "fgSBgl+pdicO7rPtebjFtl3xkq3/v6m230qV7XjlGcHqfvax2wEATifMvw=="
)), dtype=np.float32).reshape((16, 10)).copy()
label = np.array([8, 8, 3, 4, 4, 6, 6, 8, 2, 9, 8, 7, 9, 4, 4, 7], dtype=np.int64).reshape((16,))
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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float32', axis=-1, soft_label=False, use_softmax=False, reduction='mean', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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
    "eNpjYKAMCC5I+dH65Nt+BiqBv7dSG3IWXCVonnSI3fG4iS+oZi8M2OyJztvO/opq5rrtMWqq3XyP6u6EgcsLZSSmO76lmvlT"
    "hV7M4wt5STP3FivsOpRauw+n+Q1l7Mn1S1/QzH5iweGEGbw6tykPh8oisSVMkZcpNqekovy/1CzmA7Ty7/kW2WWVe1kJmt+z"
    "evaZHYLUy+9flgY1cPy5RvP49nX19byz4z6GPQBFOkam"
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float32', 'float64 reference, canonical: the documented formula')
