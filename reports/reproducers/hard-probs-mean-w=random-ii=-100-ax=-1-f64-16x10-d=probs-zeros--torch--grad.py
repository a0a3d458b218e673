# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-mean-w=random-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 44/160 elements at (0, 0): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNp1U3s01GkYnsU5pLFlbDUtpVnElnNcUm7pWZeYQ9pY7ShO62TddhOidqXctUTrupNQmDGY486kcRtDGHLXuoRod3Y3orQx"
    "W261f+zp55yd0/Pf+zzP9z7veb/vI5H+g3W4OEy7Ph3FdZsaVEsHcVSrlOV1+xHOfOZr32xSj6ttlz5Kc6hEVmiqv9VMFRxs"
    "ml9OhleB9D9cZ0+H00k8iJ+Xu9ZPcAl9n+DtqNP8KFGnf6K8nn2gF10GWk2uX9RK9XlDv787yl0EgwBnS9dNKYTuYeK0nGtf"
    "A44DxeVFdwo6FlayZq8KMbOoKVC0aiR8a/IStcBPGzBQZ7GTVDQBk5Hjc82JTYR+jJPjPi/fjAXmhHNdupDgv3rn4yPZ+ida"
    "L05rpjzNxutQxsM/2Fyp+YoENldWZhIJnqIQMsR9tNFHhhmST+5qhYkkjCJPaYdDbEX/hFklVvOrbRL48dDbZe+2pJZH+FPW"
    "nIN/6p1E+z8U7cXVUam89/ib9+SIjvguoc8m2dJayP0w7plrvHyjm+Bbm877pr/h4YSyuCRrbhwWL4xGQC/CbGa24My1ErA4"
    "e7vHrItRJjdzd1xUKJW3w61dnEAtx3ZekuVmXhV26MfJyXMHPjjXeyh3esipx/dANk4xOcCwAaI9jHsVe/tgf3l9JEqpgTjf"
    "splFz6EOY0xRVivJp57gL7pGq+25MySVc8JXyc5bowaJbM3S1dp2pDr9+LrA+CHhszL/YVTWowI3Js8FT5nXot6UdtJfqQsq"
    "MczTRrL5hK9nujFG8n0HamjV0YFXmhHgor50vouJ0zftbDuPipAcqVAWFS+ASMHMSEyuRGuqKif1sQDk48zQXw3vI/Clbt6g"
    "YBDUaw8kh+MEuOUSvRz0uBQ2Q2k5hxe70Ti8hZ7ckEvkqVDNORVPsol6daaI8uwvHpZivtzXl8GH58+RtabUMUSyHiz9npYP"
    "xsffbLWeykBHm2VZwbeV8HsutPXa3QqJXjBvyrEAIfzIGr9wPny429t070m/S5oFTRjh3gyN6G1+C+4D8N0VX/idsRBfv0qQ"
    "7x+vg8vQb4U5wnIwyxjbMqM27uPQKmVBVaYXT5UGoi6ZTWL45vWwIzplcF7rIzG8S6DPLfccv7Dx348VpngWZ1ZCj2rIZqd3"
    "ETw5I+HZnbO/4NxOxwt+1nwEOh6aDmsrl5pzXlebdpvBgrrnvOUprwicXJGZf9s9DG5HsBo/SAQn58E8Vk8VEg6uRxiz2mFf"
    "sKyfsr8Flhq5ebf2Z8MgdoGuF9QBYztypY7rxh6MrU51fn6gGo2J/QfPqorBd3vlLfHkgL9FQ4U9Hkf4TP3fxQaW5uBfw0XH"
    "og=="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([5, 1, 9, 5, 9, 0, 2, 5, 9, 5, 5, 0, 7, 1, 4, 1], dtype=np.int64).reshape((16,))
weight = np.array([1.5613581963384815, 0.7904543931670241, 0.5107707973984836, 1.573688331647529 ,
 0.5216220243804812, 1.8100853728592785, 1.5176685381491861, 1.7709862440763775,
 0.8091478313424214, 1.522795176530844 ], dtype=np.float64).reshape((10,))
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
    "eNpjYCASHL9lt+DQl/3EKn90TyvC4NYzotXTGhQc2/P8kvNj4t1z7dQSEXuOA/Ry3zvDaad5Dx/eP1HRnik49ATNws2QL27B"
    "ln23aR4v02vWb+p78IJu8W92UHCWj8onou2LN/ylzVb7lGruSz9iq//F5AZB82qzerIev3494Pki5NdG808CuOMnKdpMzMvl"
    "Cc3d+fa+W7/jddLzWf5nHu/tIacodh8AoJRGzA=="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
