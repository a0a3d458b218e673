# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-none-w=none-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 47/160 elements at (0, 0): got nan, expected -0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNp1kn0w23ccx2VdY1Zs1VmsynmItayaOotdi77LjqDb3JWmYR6udDruqnWXtIQ1peNGyobpPIyxaBujEYmQqYcGIR6yC9Ka"
    "uHmo6m7TU0Frktvsj60/f+T6+e/z/ry+n6fvx8zsP9v9xydnz/fcwxqdv3povxh/xZvvcMvtx/9hs9yDeub32iHQbL/MimIO"
    "YL4vkEQ3jhLxmiixxx3yLfhksTpLsiWE/sLCrOzpaW/14Lr9nCd53yi4jHTOiKcGH6jS7te5jRM8nRRizVE1EP7qG4c5D0dL"
    "YeF9OTthUYyNq3EjyfUdkKitybNLc2BcXTAYmSLoYrduFFTXQJG4+QznBNjqYFRKBQIiT5bUlisc6SL80l65TfWiHMdXxYqP"
    "nBbAPHeAllDcZtK3qj/9RLmvBOv0o48yCuVQl6hIuzO3+9tREDTt7TmPgCkDK7ZLDm9ztc2RsmK8WSnsVV4YILibYWYi1YwA"
    "IpHjeE7w9n4uaajWkddqQG9hNU1z6xCuyJ4IjL1v0scLc1PnNdVSe7CW+7osNKEBDnWvGhKpVQQfWyadEZ7qQcCu1Igqtwdg"
    "uZLvxsx1vjQftcjhZqVlBi6ofgnnR90w4RyTnZ2MOVM40cgvdsn8DR9H1ofy2e3wY2kfe7AVWNTXvjflUImDDfQfnqvH4eUQ"
    "VkQ/LcNrzll0zydCDH9V1sXcX44rNHdfWfi3+FPvrT+eMQhudCTFnyzHWF5798kkKQ7EHf48daqGqB9pWzDzjmU/unZeCV5S"
    "NxP6+RCh+xZ1DDQ9ddg2RYlpP5BaFD9iIqRZWWo1THDd7KCT3222wvyy9acXeS2o6FRuLFtV4VJiH78pSmAyp134loXlsgr2"
    "lr57bLRa0PIzM4sNGgSs30v5O6kSaz53dlIMvcjVYfDtd4VwTJEwN/aY3vlGg6Uux7wG+m/s5087y2Hn9VhE404gY3av68DT"
    "MROekRryzyPGIKEXsl2q9oZOgJXGZZB57YRuaNdFeHlPv/QfI/MLKU/9tVgse7au91FjaNOYR2qWmfDLQmqrC68K/OGhZv8x"
    "CSYDq7u0HDWOcn5qiamuh4ffGUpb8gxeWZp6fte/j3h/yutIY/6vQtSXs/RJ7jKI9ul1rVnb8zdyLubfXlSa1NM/7AiQTm7f"
    "362fn6x8IVbgUO3aZ1HHisDt1vBmGzUIsncq/JrTj/L44J4WLzHBxxXkGc8OqCH6MJonrSjBA7sz1bdXmiGzkNtdm2wD5XfX"
    "iGPzCrA2K7ob3t/el3aItEvTryB8K92IMb1DgIVYdntMhBSrK7bRkvhJ/Atx/bo+"
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([6, 3, 2, 1, 8, 5, 0, 7, 7, 1, 7, 4, 2, 0, 3, 1], dtype=np.int64).reshape((16,))
weight = None
g = np.array([-0.2590449659032177  , -0.10968666398972048 ,  0.3292284356046022  , -0.21428471431075446 ,
  0.4430493760780844  ,  0.004915016380306892,  0.3289600094464928  ,  1.04872709576051    ,
 -0.44155348904492314 , -1.5691217283795202  , -0.7762562023919014  , -0.7561594622419908  ,
  1.1904562597128814  ,  0.7379670078275706  , -1.3775218938462814  ,  1.8917643442713075  ], dtype=np.float64).reshape((16,))

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
    "eNpjYACDBgYiaQNVtolqB77bM5Cq79PNg3Yv35CsjwENNM675HbFj/MAA2Wg4dK8W+zVCxgdyHQPTveRCv7/EOFcs0eXZP88"
    "EhZt507cuZ+QOrbPr26sD2GnNLwoBqd4Vs+eku+Fyx0kh7vM24kOrrKsOOPvrPg5w81qxtSKX5LpoK2rLjZVKJBsf7fjyh5V"
    "YRYHctPf6+BaT8a7ImTH9yrDnZ7PbvzYT+Xox3C3d1n8ApagcHLjh4GbtUdis7EpxekaAKtbXr8="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
