# xent-parity reproducer: tf.nn 2.20.0 on cpu, forward
# case hard-mean-w=none-ii=-100-ax=-1-f32-6x5-only=forward-bad=label-negative-compiled
# API: tf.nn.sparse_softmax_cross_entropy_with_logits / tf.nn.softmax_cross_entropy_with_logits
# verdict: bad-input-accepted: invalid input (label-negative) accepted silently: returned nan
import base64, zlib
from pathlib import Path
import numpy as np

x = np.array([[ 0.8018097281455994 , -0.6349843740463257 ,  0.21529926359653473, -0.6819643378257751 ,
  -1.7892167568206787 ],
 [-1.085408329963684  , -1.9140866994857788 , -0.7042492628097534 , -1.2097433805465698 ,
   0.9556805491447449 ],
 [ 1.0097638368606567 , -0.9212128520011902 ,  0.16684013605117798, -0.5221920013427734 ,
   1.725205898284912  ],
 [-0.5222588181495667 ,  0.9546003937721252 ,  1.9659637212753296 ,  0.9311583638191223 ,
  -0.06829680502414703],
 [ 1.021030306816101  , -0.3519929051399231 , -0.8213554620742798 ,  2.060248851776123  ,
   0.46658340096473694],
 [ 0.9434341788291931 , -0.571194052696228  ,  0.9269232749938965 , -0.4738624393939972 ,
   0.15976594388484955]], dtype=np.float32).reshape((6, 5))
label = np.array([ 0,  4, -1,  4,  3,  4], dtype=np.int64).reshape((6,))
weight = None
g = None

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
loss, dtype = tf_nn_cross_entropy(x, label, weight, g, dtype='float32', axis=-1, soft_label=False, label_smoothing=0.0, want_grad=False, device='/CPU:0', mode='compiled', ignore_index=-100, reduction='mean', passed=None)

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

expected = None
show(loss, expected, 'float32', 'an error: ValueError: label: 1 value(s) outside [0, 5) and not equal to ignore_index=-100; first: -1 at position (2,)')
