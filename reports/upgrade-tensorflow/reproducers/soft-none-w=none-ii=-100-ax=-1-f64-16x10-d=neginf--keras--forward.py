# xent-parity reproducer: keras 3.15.1 on cpu, forward
# case soft-none-w=none-ii=-100-ax=-1-f64-16x10-d=neginf
# API: keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy
# verdict: known-defect: matches the known defect zero-q-neg-inf-nan, not canonical (canonical: NaN/inf pattern differs in 8/16 elements at (0,): got nan, expected 2.8665711891758394)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNplknkw3Gccxp3rqGuDkCISVyPaLBIJgu+SKnGFxhHCUjMkqDOhzhKCnSARZ1WkLaNuTTuYNtN4iSObTTF2s47aLbvO2u5m"
    "l8XWtZ3pTH6dad5/3pn3eb6f55n5vmxP/0PO0x6kqesrn74lAql/j0ByLd+IfRixhAjLlTW2wYsonKBtJjtKgWrt05e6dGWI"
    "4ihLWYu055j/R40W0kTxJrJUt/myP4cGZNX4eoNlDjCMcseNTFvRW99F+lMSo3Qa9XpRb3UMjsONV4Zk1ewNyAoJGzI0oWC8"
    "oYVeehdlBpszSNHVOfhbBP2G5azxPgHmK9jgWskprIGXNOGhmtsW8t08xtfx3QC5Xhe9TTYXm8czrz4IsNgBMsm+S9w1AuhP"
    "peJsEwkY7L6oveFDx3hbZ71JHJwEBHI5ND/qGuAMqOITaSzELp9stAsUAXBDM1/FUOAX57zwhKJ9KDhqgT/MFUOMuQLNPvEJ"
    "xuklX1MepopR1GjejLGdEHu/nlwnOOI7glKI8ed/fn4HrXQ/u95RvgwqqSXzpLhdRIx8aFYYMYH1vsdjM9MGhOjTO5W77os0"
    "lHGkNN7Ttgf0jiVbFWbQkTKsflgqI0Itv+X/kE/+HaxMm+9f1BgDLQvnL2IJAjBXLPJMNRjF8t/eMU50vEh/BW347ak1VI2h"
    "VR0ilZzdCpezCMd7fLaRUoWEXx5MxeZOPWlXzz3OAYfPBXyHC2PIVWtDrTNnEvQbXGN8NNZAYX2tTHOBj/lny0hLHor7oIzP"
    "ZFW7bL+THyd9cyTNdB6By93Og0TcwP/1vxwkUx1hPKSXt5pe3zkBjZddvX+iLKN9pvC1UXkL+LwwSNAcYwF+1YnbG72AAkRN"
    "Unfxa1hOZax7QXuRAPWcWeCevP3fv1Y+7cJs/0B+IHSmU2urSoR2NGp6NuUP3+nXmDwXbZ85DNbnlPsS6ex3dOsogjFkM8C8"
    "Y6rQwo0Htx2DzF4OL2B7I357wY1KZAE6WdK0Y8ODmIj0b5w+nsJ0HTuZevHMFpiMlKpwhYPo66YcY29/FrBsXq6e2BEg049q"
    "b/KtpIle6n5B1rIcLF+b8pXtYxEPmX8fK9TSZIIzPiQslPYHqghIaK/fZyK31L0WIk6VGDSF88gSHkCS4ydbprp7QHqsUPfo"
    "EQvjhATyZt+LkyZW1jcvjssyEK81U3YtWIgkPaoq+g18rKdijR21IqgOZHDei5vnGRBfFXmOkb2OcaJVJLdKFZagpSQw9s0y"
    "Hz4bckpNkmPAdow2ddHyNfLudvSP1u4HzneaQ1fvD6CO1QLxr7bTyFNm+syVgCGkchCgvt69B7KDDkltOzSgEVd2ssrmMb4r"
    "PbV4rkNqIPL9qsmgJgkcZRuxn43tI4/+Npy7zyRkXAp3OVW9jsK9/cb2HN/AXnBARG/fDMqRStWR81mHWb60siO9DV1pryUo"
    "SbgwJ3SIwp2dhQcpzc1ujBb4B5/1Rn0="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNplkn08FAYcxhultBBS6YR5T1kTmq7ymEVKzHCtKS6F3sbEPtEbSek4Ccd5yZ2XI3KO4zDnvHTHcdwJkZyVlSm9qDVSpmT7"
    "Y7t/ev58Ps/v93z/eIwPWhj/mMHF/MkskmMdDwv+0/qmSjeD2Q7cVy719D9xC38WSjRHlSSIupA6kkm5BW23RVcOnC5T5AXk"
    "DRlju9vBNGrY1eIdC8YaRv3tB2yo+2btX0O9iuaClpxsKheL1LaO7n8/AEfNgv42PQqypnJ/cFrVhHuZuUEOykm47UMwmwwX"
    "I3JuY348Q6b431PHT3tP5+Ids1OudoSk8H89x1EtZQjxNm6LIHhWBE1JSu8rzYcoJPJzxmMEilzAHpauvISFnzKuKRN1RNj9"
    "izRKSZqCcT//CfMZPtLWjqyd1ksH3fads6akEX/7jjpW7GqF+PDYZ7EB7UiY+0uFzGyHOGLTtYEl2aiTFK5TVqlFPed44gcz"
    "Ie723cnNeTag6Dvvr392rN0dYUYeZuUzRQqfujqP42faj9N6UzFhca1orJiMsnE2wFyokrUBuQQ9pyQNVi48WCTKXqsn16JS"
    "p/d6A4+FlYc2pYnKm5BUdcNm3ywfETxKn8sSHuwLMmvaTArw8d6Vb5MXNsDrKo10gy3BlK02zdi3A0e1Km13uncp+v9XM7HC"
    "o0qDjajJJVl+QSUg3DJ7lC5oQZqXjlJqcgPqLz7xHXSpUdxJX7iePvtkCEOUfd6EHhHueWy0d9Wvw1hx7BvX0hv4uTjkgIOT"
    "EEQNXx3xk1Z0m3YtnrAR4G1w9cZ5uRD3Q4cXKz2rApnwWKRGWwGfnXdTdnQ0gXpkrZP7gppP+BxuTlnyUqMw4bNUYEm6DkGe"
    "9Gi1fRvs9VPuG9x5jPRgaa/9H3TEDDpzt00kg7fq6cOcHRSYJ1Yv/6K+AOdXHlet9JEhS97bGdAohO6rQpLXIR6oHjFySmQ0"
    "trtfDjV/wEDDlQoWPW4I4RssW7PYV+HHqHV9NliHQMtZc6ODZxDyKDBhmFP8CR9hZrAjkdOD5aPWZPnkbyCGfmQZBcYrcmJt"
    "LQeT7joYdhFn+BdTECQkfGdo0obaqr3q+/SLMNScqp79uQyR8ZddRqg1COhRq/XvS4V8vXr4svRr8HKJXabE7MSWRePbrDw7"
    "4W39ICD7JRts4+12PplMXJhxWzhdJ0LG/vVF3QwRfi+c5VB1ujBCuuR5mR+HM0IT3X5VESzsvs4/ZnMSzSbZtIhoioIvKX9z"
    "nt2FO5DNd3uOr8hDGed5CldLDOve4bBzps0oam4rSTgRD+L34anzGh04ZmnWmqUlgYDmVR55kY5zsoQRlY9iEGK5Hkk3y7Fw"
    "9dvNJVZcCKNFe3Jb6XCxK5O+PitGGLnl/NYJOoJstud3Gt7GJW2nTlPZv7vQabLX7c9BTBJ7h/c7Lr5Z99y2+g0PUmfb4sLp"
    "cgWnaciXpODpUuzaG/lmy9NBlDGNNYoqZGhkHVKXWHTBjfWCSWUXgL8gwtuZTwNUJ6MfG3JxTKpXP5wjxibyy8BHp8Lw1Yc0"
    "laUtSZgKOaw60E2DVe4ce6ivB/8AKE4ung=="
)), dtype=np.float64).reshape((16, 10)).copy()
weight = None
g = np.array([-0.04576692255662836, -0.538987890806758  , -1.89591398377418   ,  1.094045910100037  ,
  1.5441266471129536 ,  1.4313106561378812 , -0.46133860021546785,  0.4656474843770648 ,
  0.4284916634379116 ,  0.3881936506446431 ,  0.33708292518976324,  0.17042848363993074,
 -2.034642901052247  , -0.38066034356955564, -1.191353238893478  ,  0.6100198607248841 ], dtype=np.float64).reshape((16,))

def keras_setup(device="cpu", determinism=True):
    """Select keras's TensorFlow backend (before keras is imported), pin TensorFlow's numerics and
    import keras; return the flags set."""
    import os

    os.environ["KERAS_BACKEND"] = "tensorflow"
    flags = tensorflow_setup(device, determinism)
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"keras backend is {keras.backend.backend()!r}, not tensorflow "
                           "(keras was imported before KERAS_BACKEND was set)")
    return {**flags, "keras": keras.__version__, "keras_backend": keras.backend.backend(),
            "keras_epsilon": keras.config.epsilon(), "keras_floatx": keras.config.floatx()}

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

def keras_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, from_logits,
                        reduction, ignore_class, label_smoothing, want_grad, call="functional",
                        mode="eager", passed=None, probs_from_logits=False, device="/CPU:0"):
    """keras's categorical (soft labels) or sparse categorical (hard labels) loss: the function
    (call "functional", reductions as users compose them) or the loss object (call "module"),
    class weights as the sample weight users pass; the loss or its gradient by tf.GradientTape.
    The case's arguments reach the API as they are (one it does not take raises there);
    `passed`: those the case sets (None: all), the rest left to keras's defaults."""
    import keras

    nd, ax = x.ndim, axis % x.ndim
    C, e = x.shape[ax], label_smoothing
    every = passed is None
    if not (every or "ignore_class" in passed):
        ignore_class = None
    kw = {"from_logits": from_logits}
    if ax != nd - 1 and (every or "axis" in passed):
        kw["axis"] = axis
    if e > 0:
        kw["label_smoothing"] = e  # the sparse loss has none: keras answers
    if ignore_class is not None:
        kw["ignore_class"] = ignore_class  # the categorical loss has none: keras answers
    reduce = every or "reduction" in passed
    if call == "module":
        if reduce:
            kw["reduction"] = reduction
        if every:
            kw["dtype"] = dtype

    def sample_weight(y, w):
        """sum_c w_c q_c of each position (soft or smoothed labels), or w[y] with ignored
        labels weighing 0 (hard labels); None without weights or ignored labels."""
        if soft_label:
            if w is None:
                return None
            # the smoothed labels as keras smooths them (towards y_true.shape[-1] classes)
            q = (y * (1 - e) + e / x.shape[-1]) if e > 0 else y
            bshape = [C if i == ax else 1 for i in range(nd)]
            return keras.ops.sum(q * keras.ops.reshape(w, bshape), axis=axis)
        y_pos = keras.ops.squeeze(y, axis=axis) if y.ndim == nd else y  # labels with the axis
        if ignore_class is not None:
            valid = keras.ops.not_equal(y_pos, ignore_class)
            y_pos = keras.ops.where(valid, y_pos, 0)
        if w is None:  # the function's ignored positions must leave the composed mean
            return None if ignore_class is None or call == "module" else valid
        wy = keras.ops.take(w, y_pos)
        return wy if ignore_class is None else keras.ops.where(valid, wy, 0)

    def loss(xt, y, w):
        if probs_from_logits:  # the probabilities as keras's own softmax makes them
            xt = keras.activations.softmax(xt, axis=axis)
        sw = sample_weight(y, w)
        if call == "module":
            cls = (keras.losses.CategoricalCrossentropy if soft_label
                   else keras.losses.SparseCategoricalCrossentropy)
            loss_fn = cls(**kw)
            return loss_fn(y, xt) if sw is None else loss_fn(y, xt, sample_weight=sw)
        fn = (keras.losses.categorical_crossentropy if soft_label
              else keras.losses.sparse_categorical_crossentropy)
        per_pos = fn(y, xt, **kw)  # per position: the functions have no reduction
        weighted = per_pos if sw is None else per_pos * keras.ops.cast(sw, per_pos.dtype)
        if not reduce or reduction is None:
            return weighted
        if reduction == "sum":
            return keras.ops.sum(weighted)
        if sw is None:
            return keras.ops.mean(per_pos)
        return keras.ops.sum(weighted) / keras.ops.sum(keras.ops.cast(sw, per_pos.dtype))

    return tf_run(loss, x, label, weight, g, dtype=dtype, soft_label=soft_label,
                  want_grad=want_grad, device=device, mode=mode)

keras_setup(device='cpu', determinism=True)
loss, dtype = keras_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=True, label_smoothing=0.0, want_grad=False, device='/CPU:0', mode='eager', from_logits=True, reduction=None, ignore_class=None, call='functional', passed=None, probs_from_logits=False)

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

expected = np.array([2.8665711891758394,                np.inf, 2.289137812884993 ,                np.inf,
 2.4092484059535146,                np.inf, 1.8262591191402282,                np.inf,
 2.311758319031874 ,                np.inf, 1.8976483901619914,                np.inf,
 3.542045340612735 ,                np.inf, 2.27135582331367  , 2.8076043316100026], dtype=np.float64).reshape((16,))
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
