# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-none-w=none-ii=-100-ax=-1-f64-16x10-d=probs-zero-rows
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 45/160 elements at (1, 0): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNqt0otTEwQAx3G0sYDFIeDQNLGJhOK5gxMDpvRLccgSihiH2WiiEJKOVwYSYYgsgQFyYxOmA9qjwZw7YOMlDzeeHuTEGGrF"
    "o6Q51LROxoSEkPoj9v0PPnffjEZp4xV2O3jsWYIspwZyB51ovEgByTo/n2LaXezo3RDCpgmQwDhrLmXUw3Pf2KrhTA4OSh9w"
    "gkPHYKI8eUEVdYBsRzS7+12DnY1zfrBF4HCwEwVFvnkFq36CfmB7upavxvyuZa6i+mdE7PnFeaOrBozuL2qndWVQZMeLblSK"
    "QfazLOZ61kNlWTPN+qQMDQ5Se/dNaijp4YzCpTvI77eO/1PdDlXeZysJExcx9lJQInrnOgKLVWwLSY6MgAvrd43rQArznu4y"
    "dkItS+2sTerDaer5x7xoHi6ziWG68h6be9/Vr6QZd9+EVnzX/Aa1H+lZSzHHG1R4GiVx6fRoR+0R2onkbRLQDnAILIIGypyZ"
    "7aOZarg5/nupmTUMq2RT7NKhXkSdcfvT7iMljnm7Fi/Q5TgXGDu9h38BzGjCe1WUqyCP1iyeTL6H6rXpaWt+F+Lc055cupgH"
    "Ydc214TcVrxF42h9C3S4TXmzlx73PZzmJZF1IWM295pHs4ZTnxkxxR9gxKoU4KxPFEunpTgu849ziVQivsN/JC+2CAcKnu+N"
    "CxMjI8hrquj8JKzNwcTs5CbEh18TMdMK4f1XotPHAiEicvLqW/1b8fqhFtLZQgMMMSOvuj/8DtRAy+QWVQ/IVo+9pU5qvDb3"
    "8A+/oAG8/ZvSJDvx/wdjykdfSVuwMzp6iKStw81vHGNSnuht7j1CiTE7huhhYZWXFri3oiOLY18RdA/l1sx+k0EKwaclZfb6"
    "JrQtL7j5DjWho+JbcqFDH4SZC5Nfp7ZjZijouXxRiDkX5sPG/fVYlyj48jRXgcoUL+lohQwJq/fpGgi3MMdM24zBHzBvHRQs"
    "S8cRSLwcGZdUi0pDuYtmSoKQ/Mf+t4RtMFkeuRAGK3E/tY/xt6bF5t5TSirJQzCMlqkroffPXMRsQEQVd6sGbVHaw7t1d8Cd"
    "ONbM3jyIWaO1eOPtJtBfPlOOq7WYmU2oIua0w+LJMGev1uBk+FFKmyIfvNCUq1vdu3HD2Lw/81UnJl7szJWXXAfJxPzAzukS"
    "Sn03fJ60Ywhy5ypacEA3uiihNUd/5OPU+0SfkV8NWHuYV0n0qQPfq2GFy2rFfzobpTU="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([2, 4, 9, 0, 9, 8, 6, 0, 5, 8, 8, 4, 3, 8, 7, 6], dtype=np.int64).reshape((16,))
weight = None
g = np.array([-0.3771294899489758 ,  0.5694283269233663 , -0.7228974691526147 ,  0.572385856179007  ,
 -0.6667349297978535 ,  1.2447531686046607 , -0.5239384793914552 , -1.57821757638463   ,
 -0.3413091189138941 ,  0.2758987609054546 ,  0.3090185849538532 , -0.6541044341852079 ,
 -1.3779155684359614 ,  1.802849994072177  , -0.37901450546880605, -1.3886460114252603 ], dtype=np.float64).reshape((16,))

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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, use_softmax=False, reduction='none', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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
    "eNpjYACDBgYoLWCx5sDtd4oODGjiJNIEwIf/DKSBBkppdcULexeGaDl8PsC2ozuY6QADdUEDdegP9ZQ6JP3v6jjHHKUD5LrP"
    "9/KldYU/JByIdGcDvejw2HU3jy/QdKBO+sMNVii9Odb+VILK6QMjveN0f6fE7uaV/5UpzX8N8TWzvVb+dnCgTf6lnn9x0dtr"
    "6u2UOgQoDodGXV2Bgt/BOM0BALG4X5g="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
