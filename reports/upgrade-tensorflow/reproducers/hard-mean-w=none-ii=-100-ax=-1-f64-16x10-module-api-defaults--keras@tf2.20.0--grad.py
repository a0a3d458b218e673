# xent-parity reproducer: keras 3.15.1 on cpu, grad
# case hard-mean-w=none-ii=-100-ax=-1-f64-16x10-module-api-defaults
# API: keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy
# verdict: divergent: matches convention float32-by-default, not canonical (canonical: 160/160 elements beyond the bound at (12, 6): got 0.0006863136077299714, expected 0.0006863138899808775; max error 2.6e+09 ULP (abs 3.11e-09, rel 4.47e-07); bound 5.56e-18 abs = 51.3 ULP)
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoN0Ys/EwgcAPBSeWYnepzrqJO8OtInylr8NpFK6UUXSuWsuySURNlRZ7mbZDp1OlGpZEx55pX6oZryyvs17SHbzHNrjGK6"
    "/oPv5/P9gxLy7BirDXNSRF4srTaIoA2yU7TfwhLtueEhpgrbEnevPc4TgbzHfDb6rhr5wJGI/L2VCmgj0FedjM1Ao9mUESz7"
    "hOLq9HSHRrWqgbvmAtezHRCrrxcrEGpWOZYmLeaafoIW3WHOeFgyZKT6zERmzeE2rUoO16kJ8uekoStZE2jYVr3lQfInuHdO"
    "dsrFqgsjSxyI1HwNsjRRGeutyIcsavS+fIvP2JCi85GbJ8R73M5govkI8uQ/k1rDxqGJ4NLxjCFDRY43XVLUA4X1nMPTjxvh"
    "dpbL1vtBE/gvb8j3wMl+pPUz0kYvi9HuDc2IzC9G38wrfsUb5Zgm1ntN8ZKB0sjDvqh/IdlG2mB86zXCfKJ+eOaNIaSVsgPX"
    "pCsgqfaH4EmfPvTSGNu4JZOPP3WF92Wt4MIxn5Jk4r5hVKsLn7GVikCv3LR77nIuuJKdTEq+DMEC22vEDyVKHEh/1XGcIgcQ"
    "G00tsxpFfaGFy5MNNeB5cafPBLcfZW+Xxvn2DuKi2fc2vXZKsEkqWBBCEcIiG2s/oYYEX/LD1SlnkpAMWa9W/CZGPsn+kXOU"
    "DIvX9Il02EoY1lYlYIgcvctreY20MZiKjuNUGDbDtEug7rsdI3DzesExOqMHzNZ63iXNK4Z5TtTnK/wLcda03b/DWg4B6y0o"
    "gSw5DqWIEzxkEqDGXbizML4disKFuoqnNaCxvUic01uL8wejNhSwX2BC1tsSvyoe7LqknmjOasCpp+7AcG6CTA/z/RznKaBc"
    "rQtlpI6AyPJmXcb+cWylWgw8XN2Geco09VOJfeirYDnb9wugS5U31Zr2Dk+0ZOscUQqxcpIp9vUbg2T+6L4a6w40lpiwy3Y/"
    "g9nfN4XRrJog1PPiS0u2AFkPPdrnslvAumT7Kjs3CdSfHkhs9OxG13c5yJBKcXVFAv2QeyFGuVKJDdECJK5riKQQP2LAvK8R"
    "P+IExKgdym7eJcLDlnfiG7+Tg5+zy+mPKyXA6H4uKDDMB/cxHYVJGQ0WOFWc2Owkw76ACy1u3XPAdwc3p008PPzXkjsqkgxq"
    "apf4s5/OQCiVzokV9SOJC+GGUg7qZ5/Qkt+WAf02qfuguAZm83QNvi6TwLrU6wfZ5UOIZ4kdO5smQDTSFu6dOg25hBe9tqxh"
    "qO6c8hQfGYN12oUDNwyKQHhmeTmNMI5/+p6d4DflQmXlA2KHayfE39wUGZdbBufOF9X7iF8Dlck3iHupSX601YxDcBqBVXwP"
    "cUGwADO+kJhuO+qgWt3RKGZwFK9u5odwm7+5NZP8nTMnYc/K1vUxMQurNtx/3ny0uBYdCHu8t92bAQPTNJ1EPRGEaN3vWvv4"
    "PXIvqhyDc8egk9C+w/agBJhKw0ddbvVwlCStDlvNxwITvZTSoFac4xgTvnp9e7asUd86NQyl3PPX7D6okSu7VWveJHCwmfHP"
    "Uvl/KrjMDIjTrKiBRvv8X4PUP4PnE7PlmSFCELfsVu4tVaB16jgvXkcGdbei3aYDh7Apm67xi0oEOlGdhO+vCGF4o+ONv006"
    "IYjJvFrdzMNekeR0Gn8S3qRTry/+IsKIeA2sdlAj/yEwvuRX1IMlwWlmHlb9qBlA8N71RAL/AyHMtwE="
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([3, 6, 7, 9, 0, 3, 4, 4, 5, 5, 5, 9, 5, 0, 4, 8], dtype=np.int64).reshape((16,))
weight = None
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
grad, dtype = keras_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, label_smoothing=0.0, want_grad=True, device='/CPU:0', mode='eager', from_logits=True, reduction='sum_over_batch_size', ignore_class=None, call='module', passed=('reduction',), probs_from_logits=False)

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
    "eNoN0/0/1AcAB3AvT2VtN4mFaikJUeESIh/FLYWih5M8dM65k/Nwnt05p/MYduUxUiO0suRhEV3im8Qllm0oXfMwL/Kw2msk"
    "Qp31D7x/exsE6t4S0+lwXj/uPtvLwTui0H+XYQhEhs1HFh7VEGrPpW3Tj2IxOFOm1K9wHaTj/1w0jkxBcbr0Qr9+APihijHU"
    "Vcdg/mTutN5aMqrecs9tFrAgd9Fu14al9WjJJOfQNvGgFuvhG6vjC72wfvg+IyO2W1hY5ugPu+DPYaoNNYRYQ2B7q48H5jof"
    "kgrLHZY7DMTZR24gsu68dKBNAFnq/hCXCXeUDt3zc8nmoJLSO2s9xgK7cV7mZJOLiTSpSJ/PwP54w4BtSSng6yiJGdGVRP3G"
    "BucDa2kQH0xaHiFzQDd+UVTafRJ/2NGGhN5+6FuvUfyhyhmFXMkhdYN4jGgbyWqHStGxoN3o0MnCA12RCsPtONhXD7X6jwsx"
    "6MgsmV86g2IKQ2vRrIbQPvVyYmDzHcLoe5LjJSdf0OQeV+7Zmgz/Up5GcEwUGkyzbSSX05Bued/Cs/wEJu3L7K1fiTDRLExq"
    "PE5D3lyXQhsrBl6nbpK9U5lgKZTk51F8kLLbXmlNXBbarSr+a93Lh6maYVnZSjXRNG+ktc+Ug8XvdPJ03WmI1J4R3Ba4w7PL"
    "p+7SfBb8l9ULDLZSMZy9aNF6MgUbyfLnVJ9GwXj+9eKCIBmzUN/7fj8Xwy6X3Ha4hmNoNjEid9UX9+n4zgrJBSQ6XPvZNpaK"
    "gu3ec7VjQjiGNIYlno7BT5kap62uRCCs6dBuaVEIsm/MWLDYHLwUuj1P7onHYUrz1AleMGrDG1d+Ua8iKJ29OTniXJAnFsvV"
    "01Oho/X26FiDJw6elKcbeLBxM/+dnmYRC2/KLlylkoS4uSdRc4XLgf/cdIDfPBOtLTTnFlk6ti30jadPBSFmyERunUMVsfAk"
    "Ra2Sy8Vo/Ye705Ms2Jp7XSal8lBZ+KBxW18yQkX0oPhNgTBwZ5k8k9Gg5nQ/WSwJQ2fzGu3IHiaSPlG7zWcZoLlMu+pQbhHl"
    "aQG0zDI/tA4bx195mAlVxaWwrookfNMuvGtHjcTXlYH9OR1MFJ3l5df7uSJAt+uOWWgu9vFzhtl7vXA0I7fJxTQBttnP+CLl"
    "CsL5r9Lt1771ALffJ+TjJB33bvB2Xp5MgEJLjvxai0AM1mXwi5p4kNXK6mcyqVA1kx57O5CG91mKedo2F3FfXVMj8oUAI3Vf"
    "TSVLzkNMLlEOWGGjnvSYd+DXE0gw/viqI56N38zmnbfUVRESRzWOR9pZzCo6NY9KaRAxKBRzcTlUCws5ZJcwyFepTa3e6gaS"
    "icnzh2+qiauORq8t4n+AT8d4dTk3Er5HK1YV18bBoYOz3H57C9oGOzOnIqoJi7z8oG//zUO18t2Pp9r5cF6mfFJyYGFZcPh8"
    "dFASAlQ+ZzBGBNi0h5FrGRqOhNmuzSw3OmQs9p9jVCbYNP19a5SZ2OUVZB53LQKxVha6ltfzIaQfed0Q7okQ/dpsQjkDA7zg"
    "funv1USBpaLEX5SEBRU9ZrpVELrzpcZymvawY1OaNx6LhubTEvfVX54+ts5r9P87Cr27HbR6FCPQ4zjq57YhFHHqpDPWZE+4"
    "jh8WSApSIHikQl/aTkWTlY1JxYsiVLwLuZcV7Y0CXn6Ut2UN8ePocs8d1Rj8D69TU4A="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
