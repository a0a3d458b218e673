# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-none-w=none-ii=-100-ax=-1-f32-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 42/160 elements at (0, 2): got nan, expected 0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoTjntt69l41pYBCnaddrQD0VfPzwPT5UKTwLT+pE47H97/tizK4bZpOWZ2MPUqL/PAem8YeNllZX4Ds+M1XtiKlm4Ds6sP"
    "P7cB0Y0z5e02hFfbRgXx2oP46ycW2n7X8YSbAwLyB+eC9eQqsIDVRPBI2x0SuAAWc5m6zUbEyc624EW8zR+OD7abFfnsXQ0O"
    "2H7Kn2bDMInB1ss01+487zbbZYYnbaxP9tvNOn/HZss5SzvX/lm2rh/KbewDIm1N7bbYWPu+tFmzS8mOawY/2G63Ywx27DaW"
    "YPaBG5dsVO8V2ulPuGI7/dVlm90v3G1dvU7YFjqw2SXb3LTl9Gy1S/w5yaZy90brrQfz7a63T7FlSTxuy+w8wXbaRn47+5mH"
    "be9ftrI7slPWrpGh3/aVQ4HtqolsKH4EgWDdJ7bfQnvA/jrL1W67N3+i3bOP3nanN3fB1Ra/XA5mx21dDVZXrPDc7oLFHdsP"
    "K96Dw1PvRq6tvqqr7fadubZ6G4ps5XS57H7Li9rKCc2x27Y0B6zX+VyvLbK9R+NN7BqUH4HFMmXP2m6ftdOOw3O77VVVVbvf"
    "Rop2cd6PwGYncQaC9Vu3CdtWiGyAm2Hu/stOsfuRTXPbJbD8FsnlkLhfz2Z7s0LZjltih827mn7bEj13u4uu22ytD8jZNlcl"
    "gtXuTN1hs3QVg132pSTb6Qd87X47K9v9bt5iCwAewMWk"
)), dtype=np.float32).reshape((16, 10)).copy()
label = np.array([1, 8, 2, 9, 6, 2, 8, 1, 0, 6, 2, 0, 7, 1, 5, 7], dtype=np.int64).reshape((16,))
weight = None
g = np.array([ 1.4655603170394897  , -0.16225716471672058 ,  1.0131090879440308  ,  1.9978238344192505  ,
 -1.2296342849731445  ,  0.3831924796104431  , -0.5188345313072205  ,  0.22363808751106262 ,
 -1.351908802986145   , -0.9225568771362305  ,  0.4140823781490326  ,  0.7244918346405029  ,
 -0.051277510821819305, -1.2104686498641968  , -0.08014483004808426 ,  0.38055723905563354 ], dtype=np.float32).reshape((16,))

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
    "eNpjYICA5uXLpN+a6h5goA5oIJfm8w7vuej9yh5NHA62MjVl+u5To5Y7yQaxjiddu5O1DpDqP7YIE+EL2xkdCKiDgxlvfDcU"
    "mOgfGKj48LUK3bpoEoZ7GcKK5A5rhghRHA9eR23Ufx7VdqDUneTSL1/cfFPxW5vo+LBIXH5sh/GX/WSnG16TWSJfNKidfkn2"
    "d+yp0DQJ6UP2uOTFZYpvvHnhSrd4SdLQbp1Vz0ysfSSD248z3ff6/sOINwAP4F6l"
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float32', 'float64 reference, canonical: the documented formula')
