# xent-parity reproducer: torch 2.13.0+cpu on cpu, grad
# case hard-keepdim-none-w=random-ii=-100-ig=0.25-ax=-1-f64-16x10
# API: torch.nn.functional.cross_entropy
# verdict: divergent: raised on valid input, as convention labels-without-class-axis says: RuntimeError: 0D or 1D target tensor expected, multi-target not supported
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoN0os/EwgcAHDvPNIO1aG663MkUYd0la7rN4/ziaG2y/SQzoXkMd0RvaSr5RHVNY3TRaFGCUkkym/hPA8zj5n3tI3TjG0m"
    "r3T3/Ru+sVeUr5NNBCi8O2TPrJRAwC1CNtloFiiR+aurDR5hBEszRm5cjHlCdoS14Qg09vRl1ryaBE6Ri6//+nfg0FnZn1vE"
    "wU2lDL+e8k6wyPDUN3/8GQIixBXUQBkOJ3ftUh9SY8+dCDFctqTijR1uoPpeBNauMVNlpnxQrC66KSmYgWIHLQ3H8B6gKV+V"
    "CRgjGEVrzBbfHYO8X2Izy169R9eDF9FY4yOGpJ5M+j2Diw8vjHj8pbkMjPlyCmVVDRbX5a/0KvsI+9gK2kDODEiyxrf/WPIB"
    "59u5B2Z3qbF5OhTNVNIY/FawyeYbAge0ebuMpBdE0J9ICiRqyKCToelJlrQiP1NQ/iFRg90Q3Rep4yoDuwS/Z/vWTUHU0Uvm"
    "G+iDuN9WbK0PiyjW5IoMZquh9Cmp8fTLZeSVcsjOcjamKEh02+EJWJofc40lCJDs1fx1lKUq+20T3VLmL8eJX92Yl2jTuCIr"
    "SVCh1w+U6Fobz0UlGpJCOWHnSuBgm+zdsNUiqIVIK3cTFqB8KX2n6VYu0lnP1M12SiHabl54zOET+EaWl/ZXd6Glc0Jvcq8I"
    "CBmtTvEd9WCk5WpiF/wPJO1J+jIwWw66py7HdLTLgWg9WDuzVgm+939qip7go1uo32GKrAs0D9kEvjTJhj+fbxSumfoXepbK"
    "vMk0KXJvHlEY+E0BJ8L5HnG3CtsoKC7OOlGA3NnQRHvPNtQ+MbFi2X8UDI9459wKaIecCTlbdeUCxh+lVtSllkDhtqwlK7Ml"
    "tDN9SmKlKKCT6aWjf1QIjfzuaNbOWtgemF9tnjiN7mfr7jW1jsLPFoxUanMdDAl91lyxl+FpQeBeWbAESnysZixeysDQwLnI"
    "kd8DTvnZEcrMLhwO0xUwnvBg/V7rrhcu09Bx7Tik5n5E3zOJTx5MSVHMVzJ6zdowJSJjxxaqCpFQQ7JY/VaVTXKZ6WG9mcCv"
    "ThDDTGPyYNzz9mlV0hsk82Pn7K/QwGVzn3qRphhaiB5i7f9fZ5lWJbPVRvDNUoCiymEMVp2nl7BnNdiEPyorvfInMdLDUVq3"
    "cRGIQgbNO6Ub+JUkV6p0GZefJmkZX54GSYp7wY3geXzQd1/kGT6OpquSciihSujzUc0lGEgxjKtc8339BGxgsi+Gxw9BQvpA"
    "8RbiAGjFF3yeOzCIj685nfJdO41OS2oLbeRaKLzpLbhsK8CgIIlg2F0GzedeiF+3ijBAW+V6SOQcMsesI4W6HDD249mm7y/H"
    "wetjTL20DiQb00zyLBQQ2RDk29MpxyfF1NjcoA5c2JPfx7JRIbZSEwIeO3zCbV7+h48JRFA8evzbY21K0LUsfAgmzeheZj4T"
    "m8IFoX5lqFVLNyQT5qPT6C3w3aPbJ1n2QxiVUEs+ZyUD8HXSANoorOOZp301zUEeNys5WP43nIWGFN2FOtjqwixxr+2FuHC9"
    "NHO3BuCVjt85bzUI9Sd/SNpIqIKLxzc76rEKsLxFpZ54bxpu9/l8cdVPAtyRG5Q7vSMYpsiIJ6fLwCOOU/1o/SRk6MTsZ+II"
    "lPXn2nk31aGuerteaBYdDnrlisy8a6BXtFisvPYJ7atQNPBcDnGFV+/vOTOGCpvuikOTnfAfxUunng=="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([[   7],
 [   1],
 [-100],
 [   5],
 [   4],
 [   5],
 [-100],
 [   2],
 [   2],
 [   5],
 [   1],
 [   3],
 [-100],
 [   0],
 [   1],
 [-100]], dtype=np.int64).reshape((16, 1))
weight = np.array([1.0759207589965034, 1.4449372740533468, 0.9591291800075561, 1.6136429089336042,
 0.9775269216611595, 1.4550408891248758, 1.3538979305576377, 0.9243501224606875,
 0.5355367626874408, 1.3533249157601954], dtype=np.float64).reshape((10,))
g = np.array([-1.8235324756215345  ,  0.3638905081295758  , -2.2505598600781167  ,  2.1005614789497384  ,
  0.695433022273763   , -0.8654612346312246  ,  0.15548798091034619 , -1.5171440314511062  ,
 -1.7442622034500475  ,  1.0012248279666882  ,  0.34533242809952397 ,  0.6239010194670117  ,
  0.3743858538882417  , -1.34762339175836    , -0.04739987659967377 ,  0.018843695926011542], dtype=np.float64).reshape((16,))

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
grad, dtype = torch_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, use_softmax=True, reduction='none', ignore_index=-100, label_smoothing=0.0, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False, device='cpu')

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
    "eNqtlIk3GwYcx9vuqtis6km9LXG1QYfykOiY/XhUG81stHV7zOhUrTav7utVdE31Ua3WEldEeAyrNFKNqPeLZkkxS111xVHX"
    "UEe1qIqp7Y/w/RM+7/P5SrJCJylT9zDCIGrjgHkXLmzHKD46Nowk4/Dllz5NSLQ1eSvqFOMyQeHeIJejtVJXuFXXhR2Ys2FD"
    "3ITxEksm3VOEvL1n59RLreirnlD4p7aB0aGCz5yyn6Oe68jdh1fCoUSQ/DBZuwgkMTqKH1U10GvPuj30aQWUqTy+YNSIgWc0"
    "oRnlxIdT0V9XDVDyoO7BxxZhXnWwZ5fXu8V+1XO6G6r7eEv254bBxUivXpg2BVb7g0M0PeVw3Izpd4yVBy3XHYOmM96Tmk74"
    "Dua3T8CcZ61JxVsppGifJGYV86H658E8CFWCZ0H3Ss9ONoxTXJriKSLw+sE5h8TrgCes+AHj7RoICtuhtEXN4FSezy8bZiUw"
    "1Rxu8WtiGRT2aG8v3miFAFoBFei/wVfJ3oMBXDEsPP6ScHtNiTy1o1XgZCfeo472Uw/w0EPT/bjcqAU/14kOk3G6ke6QpJoq"
    "X4XDnHHR4UuNiGS74EliLW5ptFuGMOpwISs2d9D0Me42v+jX9IPlZ8W4cuba/U++/wutB15eHeteg0hvw3gTGhtZsz6ykkwp"
    "ls6Ib+6FuxhSpbyQZDqM0xcJrDHy3+jWt1rqMt+KLMf8wXcrlWibfyLCX7cdU7c6nV0jpOhfVDpEt1CDRpOf4MlyFxrJ6Xu+"
    "OfgMx5p7kkZfyJC0KBqQ2IiwTZf4PsniT7xoO1EV69qLTzVaQsNjOZh2875gU1oOQ9PhMeyUBigrFsrp0lnQKpObjyRfBeuO"
    "WX+LsEqQ8slcM+E6eiiLUs7rNAK3PM89EMVAPOJly2W1wSk/Bk+0I4Rb9gTuH7ICcPGOomgSVWjzyOoOTRUBbjU1D5TiHJi3"
    "aewj5LeDc/okP5leA5deHwnMl8TBkCLUSPWtBF4EMa6y69NhrPiowWrGLThDt2Jqbz6FN3a5JENqIWhJI6pzA2RgxnV4vty/"
    "iGGutrMCbQkotiIlCmol/L7uS4i4zoaxOe2ZExkN8GYfh5rJ5oM++5yWk6ht1/sQLDENBHFrQPin4pGq6BlaH0qQhxCEuM8y"
    "Ux9zW3A9MdzDXQ+xPiE4hPxTM86bF5rROLVI0tLvdPr/Pyovf0gX1MmQ0U/mkdUCZFoYW46+isejutlKO5IAWpKvZBjGp6Ka"
    "mVjFtUpAZDiICWnpGCn8N/uD1Dj0GyG40b6LxYIY92nOyRt4gV90R+/yNZw4/Y62v//8rvv8H6uu70s="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
