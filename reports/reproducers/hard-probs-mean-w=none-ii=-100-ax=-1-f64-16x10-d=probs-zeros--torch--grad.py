# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-mean-w=none-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 39/160 elements at (1, 0): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNplU2lQk1cURaotRagLIAjWqhmrxUIddtKhJy2LTgQZ0YZUQNpBKNQZFgUZWQpRECI0FER2xCCBSqiGLRDMBghhDxTZtRQU"
    "Rhg2YVgLof1Rv3SG8+/cc+5979773rJ+cmO0kIN4E1q7V0M2wqpmn7oyUmH72IBP334PqaMhzM8dC3EmM4sn9WvANppwzoT8"
    "AivMg2X6m8F4XrhhklN6BwmrNqtWpDao/IdV1YbhO8E5BH8HtbjJn66y/4SOfKLNw1dC6N4Lb835XR0YY80U2e0X49X8Ny+P"
    "SpnAywiuQ4qQ8AlqEqjmah1w042uLJby0EhluNLXirF26bcHKjsfET5yQmsbx4KDAM1NzwOyZpwNFCyYW8kJPch6exhrPQyd"
    "jMB8ap8IjVP7IPtffshpt5LT118Q/P7UMVqkThfBx2ZpbXP1ItCcyNnf2gmgNTpOXwjgEPrQURtx2d9NUM/lCoyy5WiKvZgU"
    "a1eKzOnQ5cLo3wkf6c2VuV7nCqSciBrPo7SCfEtb1JbOQVT90ve2ZsrzxSTK4PRiLWL8bTa6FqWYLg/7ml2fS+hSNLOuD/HB"
    "kj+VpX0iJeKqBul8/ngWcvsolyJlz9G9a+R4/7U0eDhNar0fq5yHC03gZtSr7J8zc/Uh5RwPdzN+7qHsUfY9HdTguZ7aB7Wc"
    "yzrVpr1b9qtxkxco8irZEn+H17pBX1isViDfUsbWGKgDe/hBRMC1RixNVSW2rJQReRvl2FujVkTwUM9RifNjEYIcFzo6baoR"
    "bB2X/+GhDDBdMqTd9Fpkpe0SJ0T24HZ4U/MRgRTqPZ8W119+BqN8vdiTfmycVRimkMQifEwauvAophaf0futagQyjHkvf2Sq"
    "zYFh1axx3YEKUEvds2+7cHGINkFKjuEhd8mjtl8lHZmB8gRW/V94YzijrSEuJ+5lWfVEtsdeiB/O/ZLHWC3FeHcIptbSMWVh"
    "G2KqIsSRgyMBsmM8wu9D3zSTdDeDYZe4krZWScSfqLz2i4ooRV3SW01jywism7dyW/M4OHxmYV8aWY74ib51nysSPOwJm2+/"
    "IPv3H54cbIwrwj17AVXxSjk3h22mEqvwCoJ33mDrh1k3b9nHDnfjJb3uYfi46vn6m1dCXaGIUi0pxQTLTDI/UYa9/MJfxZM3"
    "0fleRXOv/X24BVM1uHd5KPiR5MX8qhXFsSE+5+1YRN0swVrowEgdduw/zliU90HYfj7en1qOU2ret9gjAlR8Kax1TmJC0Xnj"
    "O98BKQYvpu0uMWjCSkNLhqZeHVGnWhE6fLhSOd9Ir/Yi21PKd0Z2CHfy1GohuPn8polosx47KVy/wTw5zBJP9EXuTt7Sb8Ef"
    "C+4FimrQuR/4Gjg+Q5HqWLyuRIx/AGLy7cA="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([5, 7, 9, 5, 9, 7, 8, 0, 7, 7, 2, 1, 9, 2, 4, 8], dtype=np.int64).reshape((16,))
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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, use_softmax=False, reduction='mean', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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
    "eNpjYCAO+B/XU5R9eX0/A63AdtGk93Mu0Mz87XPjfFLSiDd/TW9Dmdrfg7TzLxqoXdjK33vyEtn2HbY/vDs27RnV3buwfBHn"
    "mv9n4eYekjZerbLtKN3CBRc4XqFxnsGS9QC1zFucJbPkX8lLgv5q+z+DQ/79S4r9L+u6hKXH+/mAhyMMsEeenPn9xxsM91w1"
    "Clu38SXDAVrZu+biGtnv3nfoFg4vbhyTnWN5E24fAL9TSHg="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
