# xent-parity reproducer: tf.nn 2.20.0 on cpu, grad
# case hard-keepdim-none-w=random-ii=-100-ig=0.25-ax=-1-f64-16x10
# API: tf.nn.sparse_softmax_cross_entropy_with_logits / tf.nn.softmax_cross_entropy_with_logits
# verdict: divergent: raised on valid input, as convention labels-without-class-axis says: ValueError: `labels.shape.rank` must equal `logits.shape.rank - 1`. Received: labels.shape=(16, 1) of rank 2 and logits.shape=(16, 10) of rank 2
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

def tensorflow_setup(device="cpu", determinism=True):
    """Pin TensorFlow's numerics before any op runs (one intra- and one inter-op thread, op
    determinism, no TF32) and check the device; return the flags set, "device" the one to use."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ log noise only; errors still raise
    import tensorflow as tf

    # threading must be set before the first op executes, or TF raises RuntimeError
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    if determinism:
        tf.config.experimental.enable_op_determinism()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    if device in ("gpu", "cuda"):
        if not tf.config.list_physical_devices("GPU"):
            raise RuntimeError("device 'gpu' requested but TensorFlow sees no GPU "
                               "(tensorflow-cpu has no GPU support)")
        tf_device = "/GPU:0"
    else:
        tf_device = "/CPU:0"
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    return {"tensorflow": tf.__version__, "op_determinism": determinism,
            "tensor_float_32_execution": tf32,
            "intra_op_parallelism_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_parallelism_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "soft_device_placement": tf.config.get_soft_device_placement(),
            "device": tf_device}

def tf_tensor(a, dtype):
    """A numpy array as a constant; bfloat16 from its exact float32 carrier."""
    import tensorflow as tf

    return tf.cast(tf.constant(a), tf.bfloat16) if dtype == "bfloat16" else tf.constant(a)

def tf_run(loss, x, label, weight, g, *, dtype, soft_label, want_grad, device="/CPU:0",
           mode="eager"):
    """The arrays as tensors (soft labels and weights in `dtype`, hard labels as given), then
    `loss(xt, y, w)` as numpy, or its gradient by tf.GradientTape (with the cotangent `g` of an
    unreduced loss, where given); bfloat16 widened to float32 exactly. Mode "compiled": `loss`
    through `tf.function(jit_compile=True)` (XLA). Returns (values, dtype name)."""
    import tensorflow as tf

    if mode == "compiled":
        loss = tf.function(loss, jit_compile=True)
    with tf.device(device):
        xt = tf_tensor(x, dtype)
        w = None if weight is None else tf_tensor(weight, dtype)
        y = tf_tensor(label, dtype) if soft_label else tf.constant(label)
        if want_grad:
            with tf.GradientTape() as tape:
                tape.watch(xt)
                out = loss(xt, y, w)
            cotangent = None if g is None else tf_tensor(g, dtype)
            out = tape.gradient(out, xt, output_gradients=cotangent)
        else:
            out = loss(xt, y, w)
        values = (tf.cast(out, tf.float32) if out.dtype == tf.bfloat16 else out).numpy()
    return values, out.dtype.name

def tf_nn_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, ignore_index,
                        reduction, label_smoothing, want_grad, device="/CPU:0", mode="eager",
                        passed=None):
    """tf.nn's cross-entropy ops with ignore_index, class weights, smoothing, the class axis and
    the reductions composed the way TensorFlow users write them (`passed`: the arguments the case
    sets, None: all; what it leaves out is left to the op: last axis, no ignore, unreduced)."""
    import tensorflow as tf

    nd, ax = x.ndim, axis % x.ndim
    C, e = x.shape[ax], label_smoothing
    every = passed is None
    reduce = every or "reduction" in passed
    moved = (every or "axis" in passed) and ax != nd - 1
    ignore = every or "ignore_index" in passed

    def soft(xt, y, w):
        q = y
        if e > 0:
            q = q * (1 - e) + e / C  # label smoothing
        ce = (tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=xt, axis=axis)
              if every or "axis" in passed else
              tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=xt))
        if w is not None:
            bshape = [C if i == ax else 1 for i in range(nd)]
            sw = tf.reduce_sum(q * tf.reshape(w, bshape), axis=axis)  # sample weight sum_c w_c q_c
            per_pos = ce * sw
        else:
            per_pos = ce
        if reduction == "none" or not reduce:
            return per_pos
        if reduction == "sum":
            return tf.reduce_sum(per_pos)
        if w is not None:
            return tf.reduce_sum(per_pos) / tf.reduce_sum(sw)
        return tf.reduce_mean(per_pos)

    def hard(xt, y, w):
        labels = y  # as given: the sparse op takes labels without the class axis
        z = tf.transpose(xt, [i for i in range(nd) if i != ax] + [ax]) if moved else xt
        valid = tf.not_equal(labels, ignore_index) if ignore else tf.ones_like(labels, tf.bool)
        safe_y = tf.where(valid, labels, tf.zeros_like(labels)) if ignore else labels
        if e > 0:
            q = tf.one_hot(safe_y, C, dtype=getattr(tf, dtype)) * (1 - e) + e / C  # smoothing
            ce = tf.nn.softmax_cross_entropy_with_logits(labels=q, logits=z)
        else:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe_y, logits=z)
        if w is not None:
            wy = tf.reduce_sum(q * w, axis=-1) if e > 0 else tf.gather(w, safe_y)
            sw = tf.where(valid, wy, tf.zeros_like(ce))  # class weight per position
            per_pos = tf.where(valid, ce * sw, tf.zeros_like(ce))
        else:
            sw = tf.cast(valid, ce.dtype)
            per_pos = tf.where(valid, ce, tf.zeros_like(ce)) if ignore else ce
        if reduction == "none" or not reduce:
            return per_pos
        if reduction == "sum":
            return tf.reduce_sum(per_pos)
        return tf.reduce_sum(per_pos) / tf.reduce_sum(sw)

    return tf_run(soft if soft_label else hard, x, label, weight, g, dtype=dtype,
                  soft_label=soft_label, want_grad=want_grad, device=device, mode=mode)

tensorflow_setup(device='cpu', determinism=True)
grad, dtype = tf_nn_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, label_smoothing=0.0, want_grad=True, device='/CPU:0', mode='eager', ignore_index=-100, reduction='none', passed=None)

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
