# xent-parity reproducer: paddle 3.3.1 on cpu, grad
# case hard-none-w=random-ii=-100-ls=0.1-ax=1-f64-4x6x5
# API: paddle.nn.functional.cross_entropy
# verdict: known-defect: raised on valid input, as the known defect smoothing-classes-from-last-axis says: ValueError: (InvalidArgument) Illegal index value, Input(input) value should be less than Input(depth), but received input (5) not less than depth (5)
#   [Hint: Expected p_in_data[i] < depth_v, but received p_in_data[i]:5 >= depth_v:5.] (at /paddle/paddle/phi/kernels/cpu/one_hot_kernel.cc:90)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBwAM//HP0Hi1Egcm/9abgTmlC17/iDgweE9Pgv5Yuq7cYE/4/fQD4cV/H4j/Aef06rWTQPwbs5kQSy+K/uqHFtlGl578e"
    "CeeWB3vTv1PFODC+h+G/u8mX+ojo1b/cEyjOb0LyP5nT4wfsHeO/C9BY9iGz4r9ytqAOK2H4PxkQVE04ceI/LuJN393Qvj/f"
    "KBugA+fjvw0V/FFHa5W/BuwNHJoc+D/pgWFMhBblP4aBG+aHVuQ/T7UWcS04rj8VZihnQ/XiP0/6eR/GTeW/kQoairh41L/o"
    "c+6aAkz5P8sDkTbwMLc/k932EkXW579BpPwLlSLzv9tx6nCiDey/XchOzHiN8L+UP0fxSOHov4E7CHlFu+m/CUIpzVc36D/n"
    "KqCNGHTCP66YJRREz/S/eUNuD21cZ79GxiidYu7cP1YxOwTLRLM/rSRSft0m0r/cxgcocNXrP1VjumuKQPC/F0gciDSitr/D"
    "Ck9VN3jxP2y03Lt60N+/J0ohch2y5D88wne4AC+XP+d/vpY6i/Y/WljbAh2F7D+4i9JwFN7zv4oZZTqcF/Q/7jKrrW204T/9"
    "uSo/DNXCP7FflaW5G+i/xedU+2dD0L9mTocukQ3sP7VeTfgUXvW/b8c5+wfX8T+vb8ug/Q7zv55lXK4VLfm/wOjg2vD76D/M"
    "Z/kQaCUMP+seL2Oodea/by91dnT+0r9ZkefUQUv6P2XSWFDeKdY/t7sPUR0u+T9iRvVSACzkP+0F12F4+eA/XY4MRTBJAcA0"
    "eZp1h0TmP57PGqvI0Mm/96SN1hGMuT+teDRoM/TUv8ndwrlt1/S/k4fxjo9M078k689C4JDnvy8+BpxI2to/kqHGO8+P6j/H"
    "dsmi2xq1vxu1L9LEOek/CK4R6Qs0k7+CJrmrZi30vwgOW9ZQkfy/SrL/75s55b87gL1dfAGeP8QuVK58/Oy/f2ebZX+Uz78Q"
    "BwfCtiHCP4WoJZEgP/o/xtJ1SyTn9L/GiVdXHh/2v3mWojJmEqM/uSnd1mN+4L/OfFbRIVnTvyhR0M6N1fq/dclR3CS02b9c"
    "Voh3USD3v5CisMG7QPW/7myTT3GO4r/uiQvDXOLqv3MZvZ34j/W/3Zw0UwPQ2D9tHW6GeCf5P/BS6lf79NI/bOqU1juX1D8X"
    "oA3RohToP/PEP2eN7/c/XH5wafohsr+jORHFZmvfPy1C+60/yLg/j6Tk4+pJ0b+KqrZeEPD0v7SaE1ipFds/6ns75XmG9L9T"
    "0PLYATzKvwq4X+Rj//y/MY5a5Rz/wL+DwrzjU+WTvwcFAdc="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
label = np.array([[2, 5, 5, 2, 5],
 [3, 0, 5, 4, 4],
 [3, 2, 1, 0, 4],
 [5, 4, 0, 1, 3]], dtype=np.int64).reshape((4, 5))
weight = np.array([0.7667309187358005, 1.1164039085297315, 0.6549937119806866, 0.8089705659715176,
 0.8242587506121851, 0.7555579560850033], dtype=np.float64).reshape((6,))
g = np.array([[ 0.3960528359430279  , -0.021853739416715954,  0.014762416996551795,  1.749049072305851   ,
   1.3280748398948405  ],
 [-1.1665089010348955  , -1.934486553537858   ,  0.9609662079043906  , -0.12278593028141538 ,
   1.2206244696833801  ],
 [-0.21305659929213616 , -0.9377896749202752  , -0.32510320141797744 , -1.308997422405712   ,
   0.2947634301195719  ],
 [ 0.11075501007252248 , -0.34249011090204895 ,  0.6265929991375239  , -0.2598618888862174  ,
  -0.5950628862998921  ]], dtype=np.float64).reshape((4, 5))

def paddle_setup(device="cpu"):
    """Select the device and pin paddle's numerics (one CPU math thread, no oneDNN, deterministic
    cuDNN where the build has it); return the flags set."""
    import paddle

    flags = {"device": str(paddle.set_device(device))}
    # One CPU math thread (there is no public paddle.set_num_threads in 3.3.1).
    paddle.set_flags({"FLAGS_paddle_num_threads": 1, "FLAGS_use_onednn": False})
    flags.update(paddle.get_flags(["FLAGS_paddle_num_threads", "FLAGS_use_onednn"]))
    core = getattr(getattr(paddle, "base", None), "core", None)
    if core is not None and hasattr(core, "set_num_threads"):
        core.set_num_threads(1)
        flags["core.set_num_threads"] = 1
    # Deterministic cuDNN where the build has the flag (CUDA builds only; CPU builds refuse it).
    try:
        paddle.set_flags({"FLAGS_cudnn_deterministic": True})
        flags.update(paddle.get_flags(["FLAGS_cudnn_deterministic"]))
    except ValueError as e:
        flags["FLAGS_cudnn_deterministic"] = f"not available in this build ({e})"
    return flags

def paddle_tensor(a, dtype):
    """A numpy array as a paddle tensor: floating values in `dtype` (bfloat16 carriers exactly),
    integers as int64."""
    import paddle

    t = paddle.to_tensor(np.array(a, order="C"))  # not ascontiguousarray: it makes 0-d 1-d
    return t.astype(dtype if np.asarray(a).dtype.kind == "f" else "int64")

def paddle_cross_entropy(x, label, weight=None, g=None, *, dtype, ignore_index, reduction,
                         soft_label, axis, use_softmax, label_smoothing, want_grad,
                         call="functional", mode="eager", passed=None, probs_from_logits=False):
    """paddle.nn.functional.cross_entropy (call "module": paddle.nn.CrossEntropyLoss; mode
    "compiled": through paddle.jit.to_static) with every argument passed through (`passed`: the
    ones to pass; None: all); the loss, or the input's gradient by autograd, as numpy with
    paddle's dtype name."""
    import paddle
    import paddle.nn.functional as F

    xt = paddle_tensor(x, dtype)
    xt.stop_gradient = not want_grad
    inp = F.softmax(xt, axis=axis) if probs_from_logits else xt  # paddle's own probabilities
    lt = paddle_tensor(label, dtype)  # as given: float labels (invalid) stay float
    w = None if weight is None else paddle_tensor(weight, dtype)
    kwargs = {"weight": w, "ignore_index": ignore_index, "reduction": reduction,
              "soft_label": soft_label, "axis": axis, "use_softmax": use_softmax,
              "label_smoothing": label_smoothing}
    if passed is not None:  # the label kind and input kind are the case's, always passed
        kwargs = {k: v for k, v in kwargs.items()
                  if k in passed or k in ("soft_label", "use_softmax")}
    if call == "module":
        loss = paddle.nn.CrossEntropyLoss(**kwargs)
    else:
        def loss(z, y):
            return F.cross_entropy(z, y, **kwargs)
    if mode == "compiled":
        loss = paddle.jit.to_static(loss)
    with paddle.set_grad_enabled(want_grad):
        out = loss(inp, lt)
    if want_grad:
        if g is not None:
            # paddle may keep a size-1 class axis (none-keeps-class-axis): same elements, order
            out.backward(paddle_tensor(np.asarray(g).reshape(out.shape), dtype))
        else:
            out.backward()
        if xt.grad is None:
            raise RuntimeError("paddle autograd produced no gradient for the input")
        out = xt.grad
    name = str(out.dtype).replace("paddle.", "")
    return (out.astype("float32") if name == "bfloat16" else out).numpy(), name

paddle_setup(device='cpu')
grad, dtype = paddle_cross_entropy(x, label, weight, g, dtype='float64', ignore_index=-100, reduction='none', soft_label=False, axis=1, use_softmax=True, label_smoothing=0.1, want_grad=True, call='functional', mode='eager', passed=None, probs_from_logits=False)

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
    "eNoBwAM//NTgB+cxM5o/+rbfFEfcRb/kVDMEFzNWPzKfHxKniuU/3S6rKBrKwD81zY+qJPelP9tRVdWITT+/CXYV+BRZUT+C"
    "XyCKqeitP+wbA3WKd58/Yhwa1ivhy7+XCxbAMUlwvwNLxbDXc1Q/49sqlRNJ8L8imJMEYBnXPxfQrJZtHK8/yN+CRa6PVL+8"
    "eFFZz+FTP6xwQpp2f7U/r2pjSJ+y1j9342J2ff6wP8WR48jpvWK/tZYl5fAjZT+Ff5FDiPjFP+6oGzGSC5o/zjnEbRK1lj81"
    "7OzSOb6BPwavKjRtin6/uJTsbJNcnz9GQ9cVn+Tsv15+/9qIKLW/YPsiBOof9T/NdM4Kl1OtP4GP3kf1MmO/AdiNx24Jyz8D"
    "FskEnXjQv+AAEdzN5om/MnFUfXK8wT9V/yn204eJv9u2xGXJO7k/rya1sGHGxL+y48xwlnXTv1tBB53PyKU//ZKEmsLber8A"
    "7akRp1PTP4YlSjPGHuc/yXSlCxaAzr+hooPJATzCP+3pg27NAKK/ZC9SmuQ8zz9WvkPBb+iqvxq23fErYN2/D5Wb3dIL0D+Z"
    "r2+l/BG1P2xBoV3X4+u/pJQQtRx1xb9IES45pJrTv98qAevMNeS/L/QEbh5lmr8eR3bzuR6QP6ezXPDJIWG/36ELzlILwb97"
    "AU1J3kCivyB8ja+EAes/NYZNQPAglz+ttNpxMv++vxOF4r8lIbW/yhosZSOdvz81/xpexvTSv1X4DKFcHa0/8iGdCh43Hj8m"
    "pIJ+F4HcPw0okZtRvJy/R/L5pCZqxb94sPAnXE6WP5AE7mZ4a8M/X/jBiLeLo7/SP/eBDKyMvws7z2v4S86/AAz1nSgBtD/r"
    "h41816aTv1l30Ur8LsG/mAHyCG3bob+SW92O3hqfvxYU6WM1usu/HqHtpj9kg7/ZuRmIfFGtvxs6Syc+U4a/lTK2PhYGvb+v"
    "JI5+gRGjP80laPF/OqY/M66gia/Ci7/z0qmBPIzav5AdyqgWGp+/2TF5VqQbmL8cc0QTbYx0P7dvcuOPLYC/MTmrNIiJsT9k"
    "qzdYWw/QPy/6Bd1Zdni/egLcJrlXbD+h2O8ayfyYv7GSMFKmL5Y/NYwxydgWp78utUl+P5LPv3VPu6LXDYU/FUlSCK6btr++"
    "7C5FjQzOP/BRs2c8tcK/sdZTgqkh2T/daR1hHTOKP2k4gGJVmsc/Ft5hq6hKtD8meXUKlB9yv/SCYqgGnLK/V1GaM+Mws7+u"
    "m58QhbepvwSzgT3ovYU/fZIVCCV8mb+6gtVho2+mv7kD4xY="
)), dtype=np.float64).reshape((4, 6, 5)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
