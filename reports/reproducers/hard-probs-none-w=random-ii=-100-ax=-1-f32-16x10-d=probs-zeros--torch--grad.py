# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-none-w=random-ii=-100-ax=-1-f32-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 49/160 elements at (0, 0): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNpjYGBgcJCfZifoI29nKLjZruauqA1QiKF+d6vt/tiFtpGLXG0ZoKA9ttFORWO1zZEjhnaPZ+8Ei38JaLMV8NxoB2JXevnZ"
    "zrh22/ZdkobthbuS9pIzdtr0/G61VefpsnFewWKbvMnMtqW8B6zv9I9euzdLw22b56nbwcw/YORvt+fSUdt539fbTgs4abvA"
    "cJ9NQu0y28DENWA9jNdCwbRHX6qdqpmv3elpn8H80O4SuxdLFoDZzQ817WT9ptkmaB6zvRuqb6vN7m93+cA727dhh2xPqrPY"
    "lRussVPectG2arsx2N5tfJ22xowBdteiX4D9/efTJrh/32rq2zWvYAWrWxhx1i7COwMsV1wjanv722XbO7LnwPzGqQG2t/au"
    "s3teON/2E7Ox3bu5CbavO9fYVhzabRt0ZIbt7hPetkwVs2zPdLyxu6p42NZMaqHNTF132wLBt2A7/29faiubtMkmPkMbHhbf"
    "ubXsGZDALf0E20/s8mB5uz0MdrlclXaNSyaC7ZfetBFMP+Jlt/W9UwxW43B1OYSO7LL9nsRgh2yWaMVk20eXpe2vpjDCxVmP"
    "vrPNOFCIoo5v+TTbDVvW21YV1tjyFh+0+7HJDWzP1X88dqeEttqeCue2k5I1BOvhWjsdEhab5OzuVELMkXqyGyym+kUIxS8w"
    "sEFutR0ALbLAEQ=="
)), dtype=np.float32).reshape((16, 10)).copy()
label = np.array([2, 6, 3, 2, 3, 4, 2, 2, 3, 9, 9, 0, 6, 5, 3, 9], dtype=np.int64).reshape((16,))
weight = np.array([1.50734281539917  , 1.8118101358413696, 0.6067323088645935, 1.5622426271438599,
 0.5275101661682129, 1.2020187377929688, 0.8929806351661682, 1.7022182941436768,
 1.563273549079895 , 1.7331677675247192], dtype=np.float32).reshape((10,))
g = np.array([ 0.9695709347724915   ,  2.6970508098602295   ,  1.2429125308990479   ,  0.8333075046539307   ,
  0.0064498744904994965, -1.003913164138794    , -0.45127618312835693  , -0.2197631597518921   ,
  0.6677716970443726   ,  0.341785728931427    , -0.7543789744377136   , -0.2257772535085678   ,
 -0.4604284465312958   , -0.40263569355010986  , -0.014581960625946522 ,  1.7360072135925293   ], dtype=np.float32).reshape((16,))

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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float32', axis=-1, soft_label=False, use_softmax=False, reduction='none', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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
    "eNpjYEAFKjuWCMxw4DvAQCegpb2IpSbGiWT7lF6taLLKDaXYnR0TXM03b+Wgun/1nd+Ld205sZ9M7Q246BfJkv2NT0QdCKnD"
    "Rc+5uFFb7dsPe3L1o9OaZiyxNhEfKDUPA/TbasquOKNFt3SIDnQSNqjN9Oc5QK1wuhxa9OzkGRWH+6eelq5N/ka18CeVrmPe"
    "JR839ynF9ke/OauuGShFdjq0lMxqW5V71J5a6YVUsNvWeJEzo9IBADBiXeo="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float32', 'float64 reference, canonical: the documented formula')
