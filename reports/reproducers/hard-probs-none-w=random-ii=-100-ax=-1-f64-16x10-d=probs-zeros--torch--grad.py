# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-probs-none-w=random-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: torch.nn.functional.cross_entropy
# verdict: mismatch: NaN/inf pattern differs in 46/160 elements at (0, 0): got nan, expected -0.0
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNp1VHlME2YUb7ONowohUp3d6AZKgdGxIDMFOfpWvKjx4BJbEcpAOhyXTDySCSlyycKk6JQWBxSBsQI9LWXQFgoodTCOFdgo"
    "q+MomNEZpiKyIceWLPtI1vj++73f+32/l/e+78Ng/g0cPUjlnn8ZMP+LNe5brt2SDpAdfL79kLcWHFZ2v1F25CE8svP9NfVG"
    "C5y3qiL2iB9Y6P6LpXimJndVBFtdje2U1RFoyr4Zs3+4DdjYx0NhpDtId3Lit/7Crk6EcXHYMGbSKMLbMrdnYnRa0GKF7Hqn"
    "JpSPe1k5XTTeb+EfsLO3IFVZDRGhbNubknH4xu3d6IIvtHDiwjq9ObkV/PfwafveHoBlmdTsc14NrInN/3SpRee47AyJ/R3b"
    "BiFPGPvjRvugZGy6NH29DPHCx1xOo7oZWC4TXc46PcS+lkOSn5Eg3o08/5GE04Xw3oPhBOeAGlg9u+czOrkfLj79AO8tVkFM"
    "kZ/Xi8R24DoQkqfcc0AhUAzNJF6H+NATYs1kK9JziEsLg+8r4VKS/2giVg5zTsZFJ7IESgSvO2671Qi/ZLhEJXxrAGXqs6RT"
    "nl1gXE+ru4uRIX36/POmJZEBtlAG11n4BzAm4y1dDJTDhT86oxiH1eAXH8qqmpUAMN4J1njVAmOE0JtNlSJ9kHW8KeGoFK59"
    "bPjLVvGDxbx3dJ7J8lXLIIGQsEnoehooV2rHvD310BBhuo0v7QXh9/zKT4faQU7LO55PEMCX3Pr7ZlcJ3O1jKoV1akhknV6n"
    "9hlhQRRjpuiUUIezcdbuHUI+9s6+zY7BEgvfqK9f2PmkVKN8oQ2ugVxSCXoaPp/yXhZoM27/+VNvOeIzf4yYT1nuQHjBYO83"
    "5dkNVgc2rbpzhMB4kz5eHlgKs1npAU/sTcAWYxvjDCroYdLK/d26wesp32pt0QCRvGeSQ9byV9573iOa9KvcezBwrmJRs9CG"
    "6lbik3Ueqm445j/QlHa8CAhUjxkKKQ8URA55mncSVAO462GNfCg8II7GrVyDyfAZep9eAFktfkcCuopB1BCtx+TJgTUpilz7"
    "cBZauQweM6oTXGILFnKpfcgnRxtLnN9xy6K/ENNc+0vqJNhHBm3xCG9BvMZaLbayFiA895BFqqj8DmG5Tc+NujEZ1F/ZlX15"
    "XzPopkXLWOJ9KNP0hn7i8zOqM3GGMg5X6AAvxzLtNtfCTLV5N1urgDRjFc1eUPLKeQ2njhQf8x1GvC3nKg83VQPSlEX+1gYD"
    "BBrb7DrM9xDvWOzm77AihVycaRcmuB4+VwSdCvHe+D/WMB2k6Es1UD7YRmTUmDbewVXlubPkjX38DYQXtyw="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([5, 9, 8, 5, 1, 0, 4, 3, 5, 0, 1, 7, 0, 6, 8, 3], dtype=np.int64).reshape((16,))
weight = np.array([0.916864980086823 , 1.7592476366772767, 0.5013010801795774, 1.1579708075804178,
 1.4784304096076317, 1.0103662211336542, 1.2559063972695896, 1.2302854278838133,
 0.540307040553581 , 1.3819526466588714], dtype=np.float64).reshape((10,))
g = np.array([-0.7333107037922556 ,  0.9741741477074854 ,  1.720032315611561  ,  1.7712806134760555 ,
  0.6862518809637719 ,  1.6836644977122917 ,  1.8290909191814395 , -0.3459974574216148 ,
 -0.5124534877277552 , -0.10141357482736024, -1.5877236650168045 , -1.129255799599889  ,
 -0.3737135881465012 , -1.337215745757104  , -1.0970620791900538 ,  2.6696519650325485 ], dtype=np.float64).reshape((16,))

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
    "eNpjYACDBgYCdEy//9UreeIODMSppxi8uvcpPE5S4ACl5qyYmPRp4RVGks15ydn1dtNcQ6L1tSRYmlSuNabYvTdans+7VBV6"
    "gIFOQFYn+N/CMgtS7cOI99pVkc+FlIhOHyTT5+1CDpt8UyBofobKZrf/bzio7o5vXPGRa1Yb0cx/hGj583Orvu+OwLCfefnp"
    "qns2LAPmrr1fa7dt7hCimf2Vjn/udyz7bk+ofJnWoB0ezmpOcr4BAC2OaA0="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
