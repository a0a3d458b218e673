# xent-parity reproducer: keras 3.15.1 on cpu, grad
# case soft-probs-none-w=random-ii=-100-ax=-1-f64-16x10-d=probs-zeros
# API: keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy
# verdict: known-defect: matches the known defect probs-renormalised-clipped, not canonical (canonical: NaN/inf pattern differs in 44/160 elements at (0, 6): got -0.6048361261835828, expected inf)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNqFkX8w23cYx+WuOlz1aOdH/KpbTbW90Si30vKmrhRrq1yrLb3Oj9ZKyYaiaP2a2+ipW7MhIUz9jNTPlBIkRKLT0ETmGM4W"
    "1UnbmDKsl6C2P7avP1xvz3+v9/N53s/zeZ6i7/LX1MZ9yFIalcwEtCJfuCTCD4PwCVKwStuG4KawaB4Kp4P6S4C5e00tNP6N"
    "a04BZle3ibEr7PXlTzglhP5fGPpYlrd1sOE5lvzSzJwBz7c3LCiqh5jKSZJ/0FWPJ0NU9UTnc9zW8F5oXORCsWJo3/Fl9xaf"
    "fVevePSmtRB60W0dnYa0NnytO/Lq/qF8MI9XfzaoLcT4b0U0f4oAhcqPzHnBXKh9/QIrdSRQri9eKDrXB/3LY8FWZqXIfRvv"
    "wBGyECNQjE+EZhC+6lqV77Q2g+CPn5kOhy2lgCLLfWNZpsS2E6m8HH4ekX9wwJucry5DumakwV5BJdZG62YTvAewbJ6b2r+3"
    "FF7MTtXxk8PEe9MMZwgpQwRHhCqmSKRKxJ1XCipiGRgLl4fUNomgq6EZv+QoQmzNYe5BimSz31+Uip3rrfCNc733oaAJk09N"
    "rM+TRES+6nlWnnUfG9qf06h2XoOELuYOOGp25+DCXOoE/ZaU0NM3mMJTZbwt+/7j9/1WCk8eptMP3l3yF0H/XZ22e3AvNsjU"
    "+Yenf0J+ws+URjsZ7ioSnZ/JemEYaZ39eHrr3f4vrFerJSkxU/COSJZm9/dg1CZCwImSwXjyYrTDpWaUu0ccS9bqgmhlQdF9"
    "n4NGCXuDvI+Fb1N6rVwS22DTdFYvqrgTr0trfoRBPS6FvlPdS2RgrTjtWMgMk5iHFB0k0kvgE3xY9emLgYFCyHkKMoU0Avkc"
    "xa0sUILiP8/Jl2ks0KhWeQFS8Zb/tFyjxSkuDqJAOHvGkt8DN4v4b65ktMCtTxmTS5di93WxaDxaDKellDCfliaivvArdp6s"
    "6QHBr+Ys54OpXIJtx4+8PKBiE8zw2rHX1rGR4Dt1N1tq1tvQGRgsd/HvgPMpa+7NjF/xve+wHreiG/yYbOejTuUo0jv7hfRx"
    "L2LfJJhw6QNb5l/Z7liUmTT93jtN62UXH1l7BKPts2c67EeRZtpwXTdTjME043kn2wKirnlUPzxztQTu9HZykFkP9qg9WAli"
    "6Xt9c4wORaYsdkNi6EraTWvHKnPH0xjOCPxskC61q4F0fzXZpZEFvsmoA6+1nfCZGXdecK1vgP0uA4vT4f3w0C69ESXb3ONR"
    "tWdX1h0+lAoDDp/JRoG4Xss79BFulfnlMfaUIzCrKoqrJURIM/3EpMPmfKuTy1U7U/+594skge4TNv4GrVjO7g=="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoNyns8EwgAB3CjJH1ityRH3ZVYSlih6NSP6yFJc4rz6DqPoq7LUTtaVnlcEp+zm2rMY2zkWWIe81xlu5nnmjxGlNd9dnZx"
    "F+fSke6+f38XaLZ2x+mt+EJ/f98VQRFyiCVRlWP3wTRrerl3pBBZ6ma96bXFuC3g+3PkXAhOthrt0u8ARfgmciJEgv0XbN/9"
    "1F6MgXN29PD8dpSTiQbjUU8R+afWaMjEI9h7T9MPzcrhx9ZrMnksws6wdzd9tjVAJB5XtI7xQVwuJvqOVOBqJGUvL7oGKTZL"
    "jlRVBVaT9ngE19XiaeZfCVXnhainVVpT1DXQ95/gmlkKcIXJ2dRlWIvv/ZfySkkSeOQfU42zONCbV/e6EWQwfPeNlG8gxPWT"
    "Nmd7fZLQP2PV+eC1DEa0NZa2Wc2orrc37DjRB2aQ5qtwbwbO3+rVX3XtKQyqMtfJWAXYuMQvq35ZjW27IwZeuTDh8fCjp4pd"
    "iaShl4sZp8UYufRhRxa5HBlhPYka8XXQj9y9Q+SsQIeD34emQAlurfhXORn6CwKbOOxl/xpsbw4MkaSJ8dXC5PrzjgK46E4x"
    "fHbS4Xk3uX7RpxSfKbmqvG11IIQ27rqQnALGyIGkzU/qcFfWYPt7Gw/TgZupF7+9DwaBfNN5oxCJAbO9GuRcyA+aqR+c4yLa"
    "e/BGj9Uz8EyfPzSgdmM27ILwsnYvlBvnxSUzJYh1JHWMsWPh9jEk9S2zCF0vyo3cKZ3wfmDha9SdCtPhM9IldRniTBq1WNxS"
    "RKp9LYYHRvFxVkWd+CcBdgl/O42JWbC2ut+cs7UIMfVHZoZ0GhGevHX7bGs7xGWWhqvbJIhQVdH0ulqwVE34hFPeBl9qbXFm"
    "RCpEQQuU8HgO4nQ1Hn4nLcC+I5snfGkluCNYyQ3uZEOylkn1mi5FZfpcfJH8Mb7UpNjknuEhVRZnHnOKgwBahulx6nM4kbzq"
    "TR/lYFAzgHcnsRAMzRvmeuFSODvRw5OOvkCC5W9vTpskg/E8Y4bcmonEUGKdu7INylglc1iZDVeeIlh1uRHDdlEkxuBVHLrn"
    "/QN/QgkC78auPXwJfFpoU0vyPLTFHqgiKni4/bO4pisgB5bSSxwCgwf64Og0JApwDYwHGsj1MJ+ap7l/fQ+Fljc1X3kVIS1P"
    "7HM4tgr04B+rDw71QsfzbdPdviB8eO+UpscQwnhKN6pdtxLKELHOYjoLnSGHG5NHm5FtTrKbsxFiXO3VOarVgKCALbJMl/+f"
    "sYK+4tRFOI6rNrgmNEO+bNaax6yCkYur5zSpH9bVGooO7WvItvD7VLq9AiZdgjD7ZSHmuQVb1X/0YJXDs+hlHRHOFiSoPeP7"
    "EbPFkJoiYeJzSnuaaNEL4+anI8TuLAQn0vnRTfkYIqBkpbIF3dEiVWdLD+zzScGbNIphrOnHSnN+AkcL3/zpnsdoYbUMucpz"
    "YB0n104fy8U+D8J1uVsNNvG1XvSdqIW1C3G2Y309Fs0Y+/iEHrQ4T2WXWVUgRl698qhDHt4vvdGmm6cjQjTDzpwshFSqzU11"
    "fwLm6+x1ty9noZw5rGnfXgsVL/7oTmYX5rzcZveH1KI/e8XBmT08LLgbhT66JUMfWctt0qkXFYUx9ifsi2D1q0O3NEUAFTF3"
    "w9yGZgyy87PaLiaC7bYmb6oxHVePmfN0bWQIK2UuUzoi8B8ER3QB"
)), dtype=np.float64).reshape((16, 10)).copy()
weight = np.array([0.9049335100123547, 0.6520184581094371, 0.524926524264954 , 1.5032346272939088,
 0.6278694233544275, 0.5615512234905988, 0.6918607204958019, 1.7578439426151762,
 1.6254560089309258, 1.3815860335135193], dtype=np.float64).reshape((10,))
g = np.array([-0.9358370597968019  ,  0.7273694594128494  , -1.0369606135704834  ,  0.006031764975215101,
 -0.35324239500534027 ,  0.633048201289159   , -0.6904305786204649  , -1.3146849804106937  ,
  0.5540214762121524  , -0.608487730596134   ,  1.955511884775871   ,  2.3370027144292864  ,
 -0.2318493435830808  ,  0.5050441429996295  ,  0.385370756474216   , -1.6621752666973433  ], dtype=np.float64).reshape((16,))

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
grad, dtype = keras_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=True, label_smoothing=0.0, want_grad=True, device='/CPU:0', mode='eager', from_logits=False, reduction=None, ignore_class=None, call='functional', passed=None, probs_from_logits=False)

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
    "eNqFU21Mk1cUBkqULsjGxwBtwW4WJ8mAbJUGR9wtlYIOQT46tB3DApMZsOjojF8wMA5wQycIBuyo47NzIIOBC5YCpxaKtAJO"
    "QgWRFiqsIkV8KWVibOmSZbw/JMvunyfPOfc+55w853r94n9XlW1CCucjLGPeYzSc6K1Nz5cgboUg4e3rSlSLzen5V6yIF1sB"
    "veppZPPPwXJ+nEjdYfR9ijiPCtjkATMe/xetiwVCgfLIDAhhncfDNpIsgi1pUKy8AHAiVQ08W4TdWdzsgAdioGHPk18mjAM/"
    "ACOczpuE1fer+E6HA7lZa8L1Iw0af1P1LJLWxCXuSfBgLLGezvPyMDT0RuGZrf53UAIhx7CJuIIOicXul/JHEfMZfc4iv4k4"
    "G09U1yMSYyQ83q5MfhH294Xk3+i6h9dLcg32M6ZU4jygbj89kd0K+pRHpap9XhAZbCJ+W3UNz1edEjoupp+HIvEuTrluGuVO"
    "9jsK3h1F7RpPfvHsC2T6baWJoizC+77emFnGbLuD8w00T3Z/iBi18v94whLpED06uDOspRvdp6VtZkqbQRk5kBqeOYzXKxNj"
    "PWpHJXR42h0LUizA1HTM8m1SN57vPHEqwOFPK6wTmulpPxnw+J7LotDN5LcY88DmtG6sxOvX2qntlo5aXvctJ7AqkH/Vaxw1"
    "p6qUMUwio0CxIZ2V0oJcPWVs2sE2tLfHfqpjoRfp04cqWVwD4sw0hn3ta8N4Xef/0NLYqd/3AaDyC20B5JR2yKK6jamTOmCS"
    "mk0g9+vA1SD6ufzNPqAcFg0LKEpQ5UaNuPoTZeekUyRNnRI2tVN+RU33IL54a/S80QIPlA0+mk/IMmMw74v6+kF8Lq1S0hA1"
    "MofzqyWFFYdD7BkZS7a6nYN5KAqzUTN1BkTb7kJNiTUjSTeB1xf0+5p9jvzc6cn5GTXEvRea5j3qIvMW+XBpVAdZ0Pq4XnO3"
    "AnYSGjO2BGpBlRH9arnLXob7oqezBowy3A/ayor7Sa4Z56WlGdrqLA/8Pq9E3jLEdsH5IeVoy/db2oEV/9lgUhVRZjrADCmm"
    "jcM2syL7Ao8iU5QIYiYiapFHskyVefYWUmtOar39JGt89Q09OOUcdRv9lx9ZN5vKru2SIB8tifvhp/1w6Xhoa0K3Hp47YvIb"
    "Tka8X2LDmMUaa4RXMZ1fwWQXjHnVPOxqbFrzb1fxWJzFz6MAg4u2TKGb5xCEveRb58/XQcSOjxakR++CS4lAFZ4zCmcvV3AK"
    "v9ThOt/5/0BwTp8G632yyI36GCpipcvHD2Cr+ZzM0+VL2wdtGbnv0z92l1MYf4knzuwlzqIZqevEuR4HxjfJxCu3hBjS7Y7n"
    "r69pwueWFvA0DUULKJG6TS4SS9HfT3wwuw=="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
