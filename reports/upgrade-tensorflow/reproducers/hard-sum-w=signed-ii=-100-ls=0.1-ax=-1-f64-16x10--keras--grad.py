# xent-parity reproducer: keras 3.15.1 on cpu, grad
# case hard-sum-w=signed-ii=-100-ls=0.1-ax=-1-f64-16x10
# API: keras.losses.SparseCategoricalCrossentropy / keras.losses.CategoricalCrossentropy
# verdict: divergent: raised on valid input, as convention sparse-no-label-smoothing says: TypeError: sparse_categorical_crossentropy() got an unexpected keyword argument 'label_smoothing'
import base64, zlib
from pathlib import Path
import numpy as np

x = np.frombuffer(zlib.decompress(base64.b64decode(
    "eNoN04k3FAgcAOBcW2qZphyttzHe1r7VUo5qpdVPNUJsxtVBWVFqTcusxzKFyuYItavVYMvdexpHyXaNRj9HB2PGOcKMiDmM"
    "a5hxjNGU3e9/+BZqjuZXHtNAuJOLe8QnFUR7UC8Vt0ugo+HQbHaUEO3aGacilpUYZbTGcm0KH304f98380Iod4hOKosbwb58"
    "MwKHLkFSx3lHZKXBWSllD+eqAOoNfr+/vWQFDZTXkn7gCuGNm/MX/qYjENv+mbq1TQB1gqaVI9316BxY6M9KUWJaocd1YfM8"
    "3JqwuvHV9BiuK32Z8B1RjvLidqXHRx4wclu/4bjykGCqna9XpgJNTvqdoK1zWFHr37Pjp/dYUBFtcGtAgFXLt1knU8Rgt/o0"
    "zWjfOI4mM3dtiBsCK/+uTc5FMrQqWu8pJveCxmNyT6urAt3GavO7xsS48fN0mFBXBTqDJr36K31omdtineW3hPkOs2V/2C6i"
    "tGlnbFy0Al95BNaXDjYh56hhabDXEiwrm266JcyBow7EHOh6DU+IFJ2WgglMq473LpM8R2wMHVZNTmG5Ef+XvnG9hvT2gJrz"
    "z+ZRJvp6OJWthHj6lg4Xrgit9sTJ2oK6wKyuKtScOoA/71ovPVlZA3L71Z5hJAFuG+tk1qcpcXPYXu5Bshzb5nu/LO+WwWLn"
    "07LkFwModr3xIKj/DVwfu+BObh1DkWHgERajGbkDDwZ4plNI1zyLCFQ1ob0q9fnjuBk0zrARuGpkkPfrn8TqWB4Ye8TU8UVN"
    "uCOnTZm20gr5BaGvjVQamFLzXLONRjDkyPZOYYNeg94xD1akzRLG09gM/RN90L/AHJRldYJNwvIS3JlFCovWYr19CY9TIsip"
    "bDl+MNMOv1LEhqAO31T+UzUOUZ2O+tOGkOUZEm85JUQmszz4BaMYJJ6HDhkbanCxI8WWd3IBMk1KNs4SC7EvQjexM/Mzkmby"
    "Si5kapD+ojlIocXBa0LPw/LeWfBbFI0JHOah6LjQzfbTCCR+f0nd1jaFEaE0ElP/A9Tn+/u+tFdgaadri49yFAsrtR5fm2Vi"
    "AMVrf3DrDOyk9Eto1ROYaX4jgEHvBjtyhv3lHXykdRWmhO/XdvHL5CsW7o7imTeP9SmiKXhiXcFNJypheLdn9LvCVQ0huxv3"
    "Xg0cxKA8ZhjDbg4S9YovbFu1gJIhUsgp13FY5Dz8yJ0fwwBidFGjuRrTAgjsw6/GcW2AF51uMYlUuyAnrc1dcLB3vEc8p8De"
    "TUXTwTw1aF3xcyd7qYGdV+V9z0aJ9sVEFdVRCpykMBghLMDcDDdB/8cV2ODfSy7IEiOfLYjtWDcHfxlX5QofDEJwzkt3C9Y4"
    "XM7OVhLW9IAJcd+uPiUd3RXsE8O2Ikwyvy03qGnB+MizD/VuL4OyojZS54ACSl8lhvajFNtrSBd3RsqhrrwzKfKWCPVpB+ca"
    "tSfB+5GPyWBTOViSN73d0vgWQ72JH5ZjZNB+JWNC/WgR+ATpu3dLIvzNlySJ02rE5Xna7nM3peDy3lQckzsOynuORa0lU9hG"
    "JbBOs8qASPnWnJO1hLN3oxSVlWJIrw3/p0c2irrOvqdPJE/jilNOd0bxMGxM/lereUMPOtRaO9tkTOK2hqs+h9f3wPMkdXLA"
    "3gm49KTM7kw1D7ZErckj6Srwo28tM69HiatvGoacQwlKiQRz4v/PLY4tPrJgjODFFRnVirsA/wGIHMVl"
)), dtype=np.float64).reshape((16, 10)).copy()
label = np.array([9, 9, 4, 0, 9, 5, 3, 7, 4, 3, 2, 7, 6, 0, 8, 0], dtype=np.int64).reshape((16,))
weight = np.array([-0.7660659349053462 ,  0.8031302454614719 ,  0.4992333973801    ,  0.42880410048001716,
 -0.3816640935743427 ,  0.6007476199069055 ,  0.262300351832655  ,  0.8011594853554258 ,
 -0.19697246411929137,  0.8176334966914145 ], dtype=np.float64).reshape((10,))
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
grad, dtype = keras_cross_entropy(x, label, weight, g, dtype='float64', axis=-1, soft_label=False, label_smoothing=0.1, want_grad=True, device='/CPU:0', mode='eager', from_logits=True, reduction='sum', ignore_class=None, call='functional', passed=None, probs_from_logits=False)

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
    "eNoFwQk4EwocAHC9iN6j9uQ+wkqHL1LecnT85evgpZLX4Xm5W5JiJkeq17y39uYoM+ZmG7rQmmbJHP9cZXNr6KWECFlpPsfn"
    "VXq/38X7LLapbReckx7tYoa1QNj85/26lyvgoyjKS7uGA2xv1cR581jgrbrLbzTOBrGuuZNSchs4nZTpAzFscPmk53Gt9hY4"
    "Ovj8bScfRXmFjedv5x8DhST4l04/BpERVi3hk49B6BXkd+RGFdgmZA57Mh7DbbXdPnoN92DP4p5x514mVBv62Nj91QbU6wKP"
    "lQ8yQDZ45rBR3Biefsh3fBWXj/PaLiFXT6ciSWypUcCsxh7BzcrtgVRMuLDNp+1oN7xO6pZNpiZhKWGmOXj2DjrYVLdMEOJR"
    "xbR9KHhHETYYTaQ3MuKRoWXb6/bjMLBY8rCGdjrGkq1t2hlpKPAw0Qt9LkWvjRqczQu5uP2bbM+AWQTuUnGXO1BiUCNOTiCH"
    "0dFZ5HCnKrQQQ+uMR1uXWlGnbwCbHVvhTHS4MqK3HOqmZiOanDhw7+zivmV+JbDiCstMQEoDoefT1TfWXkBNZ5EobooO2sj+"
    "kjQthcG3rYIAizwIqjeSEv55h/skF4Mr7IphreG56o5RITS5ioiZM0UgyicPlyamwHuLqIfuw+lQnJ3WF9nTj+QMznSNXjEo"
    "xgZzag1EsMp9edbuoRzYnelC1coqgR/8t37O66KBxWLq/JBKBhxKu2sfzroKvtyquu1LL1A6t5pAXcmHn59FWo6oZgBj1D89"
    "ncED/pC0OkjyDGJnl9w6SUngyFLoFE4EoLeh8nxuIBv2ZsVy2IeboNFzh1J/cwNoD68UKtbwwT1XNkAOYMObqMKU5oZCyO/g"
    "rb9viOAw8Xtplv4YCs7kXqeHCaHVTGg/aVUOZI6OV3EmG/1nCtTUm3ei8m4e5buLCMM1FWvN3VLxGkfNjreuB5hvX88tq/wF"
    "JzrVdftXJKNKsnUaobAMdWk7XGsHyvGPNC4t+AMPXyhiXE+nREJTyInJxFAeCPrHt74MDIVBVkeTyLcf3YqMeRyTVHixoDHe"
    "QyoD9YCM6furo2H+6uU+Wm02FCQvM+lwY0KlhNpT9p8MlrwZnlVbUqCtbqN+qa8YtBTH139/Kkda38lECcsO+cJu0Ctkg+8w"
    "WavGuhaW1LJDTw5GAl9qTaLNPgKGsOS4wRATciY6uw3kZECBkmu8OQbs+imSN4pLYEUM2aAl5IIg2mWSRwiAa6rMoMBP9UCs"
    "4XYc96qHSwOpoopPfvDnqeU/ec28w7ZY+67GLRJQxJmKo1KlIOsoaVznQ4UpCl0eEn0bIvZ6TYuXp4G6qpXS/1AegIVE5j6T"
    "AtFfJ0SCTQygOx9d82qkHaW3nhcQY+JB1Eax+jWrHDS6mkWPNItgw3NdHSZ7BIo3BC5JGRL0HjqwQBxloQntQwu3pBLfX8qk"
    "uUQVYXqA5vstUfnocLBc8OCJGLXKqHO6Zc2Yop7weSyLheuzzW2dQrk4v83ygaVeDvYln3ro35uHLux1crSnYOlNYne8RwLG"
    "EH3HrStPIms++aUoPgvHnnA3zRJjcZfBsUaxUzi6XrEqvbKiFhTbvioXSfE42SyItI8eAdmUOst06yNUFHBehrUj+oed/Uj4"
    "IESjLzu7KhySUKHPEzNeM/Bg6Vw93zITT3D2H7k1k4mJ3+rcDQ7noqV2jR97oRX/B/bGlYc="
)), dtype=np.float64).reshape((16, 10)).copy()
show(grad, expected, 'float64', 'float64 reference, canonical: the documented formula')
