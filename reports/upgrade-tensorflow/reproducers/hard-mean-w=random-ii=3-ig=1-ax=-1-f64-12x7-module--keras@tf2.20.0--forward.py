# xent-parity reproducer: keras 3.15.1 on cpu, forward
# case hard-mean-w=random-ii=3-ig=1-ax=-1-f64-12x7-module
# API: keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy
# verdict: known-defect: matches the known defect empty-mean-zero, not canonical (canonical: NaN/inf pattern differs in 1/1 elements at (): got 0.0, expected nan)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoBoAJf/btnVCOuPMe/asmNkYUKBMBYgwhcoMrbvx3j2kNRurq/r85ZKiJ97D9PX79DuCDov35hk2aibay/N6rPiXnZ2T9R"
    "fgRAVJYHwIE/vBwSUOY/XMQQHhOb3D8KzxVsh1oAwI/PFY8HBvU/C2bI35uE+z8iiLW1idLxP+oJejKiCsC/G0AwhgEc4r+G"
    "Aa6oarMAQE2vx6exC+U/xIINl/1KBkBcC/IW67zyP7t03Wdcz+Q/CR6/KjDN4j89DytDrgPjP+oHgx6OgO6/nqhin3tZ6T+W"
    "MWsXLYfBP2K3UDxwaeK/3EQoQwzA8r80vGk91WvhP29IIxsnP+2/2YI4VLPA17/As0c3PxT3PxQOW6usI+y/z+3Hpy8o8z+g"
    "kB3mXlL4v2r8P6r+q+O/QqbSY8xK8z9rxRkmCDCxv8oBl5WJS/c/+Tym4ei9t7+LcnS4LdC/P/byoHl/A/I/x7mct6VW8D9i"
    "G8RixDTIv7fi6sS1zOe/F9REbNU5qj9Xtt/a7FXxv9BLw4iRIOm/DEwbGDIz8b/W5RV+zli0P44IJdldyug/M9hPiv779L9r"
    "PccyMVbmv0xRJ0NskOa/vySWXtsM8b/FEpzck2rZv6oSJ18xnfM/z6ud94vg478zqbsOCSj2v5AOZ5kacbY/8yLPWAWQx7/V"
    "dB30AtcAwBoNY4dQJJw/R4UArFo+tb+LvSicz7fhv7I7jitnx/E/RAZVrjLR8z+UIky+eN/wP3OojJfEPOi/1ITUx0vN+T9s"
    "Dm4iGGTFv5gI+fHtr+4/qbzZIlcB8783cxkiL+LRP2B9oqd8lPK/ASJuwDTV7j+hCcqx61bMv0kjXzRarJu/YrotQTyn3j8V"
    "MfUi7nHLv1AItX/6hve/KH4aWujz9D94ws2HKtvkP3bmWCg="
)), dtype=np.float64).reshape((12, 7)).copy()
label = np.array([3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], dtype=np.int64).reshape((12,))
weight = np.array([1.597415041833011 , 1.1887620404806927, 1.5736043645629478, 1.935746051717539 ,
 0.8140530771897418, 1.554880612402755 , 0.9506964262402302], dtype=np.float64).reshape((7,))
g = None

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
loss, dtype = keras_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, label_smoothing=0.0, want_grad=False, device='/CPU:0', mode='eager', from_logits=True, reduction='sum_over_batch_size', ignore_class=3, call='module', passed=None, probs_from_logits=False)

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

expected = np.array(np.nan, dtype=np.float64).reshape(())
show(loss, expected, 'float64', 'float64 reference, canonical: the documented formula')
