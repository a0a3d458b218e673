"""paddle: `paddle.nn.functional.cross_entropy`, every parameter native, gradients by autograd.

paddle's signature is the project's canonical signature, so every case parameter is passed straight
through (weight, ignore_index, reduction, soft_label, axis, use_softmax, label_smoothing). Labels go
in as given: hard labels as int64, with the size-1 class axis for "hard-keepdim" (paddle accepts
both forms), soft labels in the case dtype. The adapter never reshapes, casts or fixes what paddle
returns; paddle's own choices are declared as conventions (measured on 3.3.1, see
docs/research-frameworks.md section 3). The only reshape is of the cotangent `g` for reduction
"none", to the shape of paddle's output (same elements, same order), so that backward accepts it.

Line references are to the paddlepaddle 3.3.1 wheel (`paddle/nn/functional/loss.py`, the shipped
`paddle/include/paddle/phi/kernels/funcs/*.h`), which is the v3.3.1 tag's source.
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import (NATIVE, Adapter, Capabilities, DocumentedConvention, accelerator,
                                   passed)

# the case's keys -> paddle's argument names (what `defaults: true` passes when the case sets it)
PADDLE_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_index",
                    "smoothing": "label_smoothing", "weight": "weight"}

TAG = "https://github.com/PaddlePaddle/Paddle/blob/v3.3.1"
DOC = "https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/functional/cross_entropy_en.html"
LOSS = f"{TAG}/python/paddle/nn/functional/loss.py"
COMMON = f"{TAG}/python/paddle/nn/functional/common.py"
DOC = ("https://www.paddlepaddle.org.cn/documentation/docs/en/api/paddle/nn/functional/"
       "cross_entropy_en.html")

# cross_entropy_with_softmax (and label_smooth) have CPU kernels for float and double only in 3.3.1;
# the GPU build registers float16 and bfloat16 as well.
CPU_DTYPES = ("float32", "float64")
GPU_ONLY_DTYPES = ("float16", "bfloat16")
_NO_CPU_KERNEL = ("paddle 3.3.1 registers no CPU kernel of cross_entropy_with_softmax for this "
                  "dtype (RuntimeError: kernel ... is not registered); it exists on device 'gpu'")


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


class PaddleAdapter(Adapter):
    name = "paddle"
    module = "paddle"
    distribution = "paddlepaddle"
    extra = "paddle"
    position = 20
    environment = {"GLOG_minloglevel": "2"}  # paddle's glog notices; errors still raise
    dispatch_variables = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                          "MKL_CBWR")

    @classmethod
    def lower_dispatch(cls, level):
        isa = "AVX2" if level == "avx2" else "SSE41"
        return {"ONEDNN_MAX_CPU_ISA": isa, "DNNL_MAX_CPU_ISA": isa}
    api = "paddle.nn.functional.cross_entropy"
    capabilities = Capabilities(
        dtypes=CPU_DTYPES,
        features={f: NATIVE for f in ("soft_label", "use_softmax", "weight", "ignore_index",
                                      "label_smoothing", "axis", "reduction_none", "reduction_sum",
                                      "reduction_mean", "framework_probs")},
        devices=("cpu", "gpu"),
        dtype_notes={d: _NO_CPU_KERNEL for d in GPU_ONLY_DTYPES},
        calls={"functional": NATIVE, "module": NATIVE},  # F.cross_entropy, nn.CrossEntropyLoss
        modes={"eager": NATIVE, "compiled": NATIVE},  # paddle.jit.to_static
    )
    # kinds and evidence: docs/research-frameworks.md (paddle); DOC is the rendered docstring of
    # the installed 3.3.1 loss.py
    conventions = (
        DocumentedConvention(
            "mean-counts-ignored", f"{LOSS}#L3113-L3150",
            "hard labels, no weight, ignore_index < 0: mean is mean_all(out), so ignored positions "
            "count in the denominator as zero loss (only ignore_index >= 0 masks, L3113)",
            kind="defect",
            contradicts=("the docs say an ignored target 'does not contribute to the loss' but "
                         "it dilutes the mean; the code's own comment asks to 'count sample num "
                         "with class_index!=ignore_index'; weight=ones(C) gives the masked mean "
                         "where weight=None gives sum/N, and ignore_index=7 masks where -1 does "
                         "not (other code paths)"),
            upstream="https://github.com/PaddlePaddle/Paddle/pull/76033",
            demo={"ignore_frac": 0.5}),
        DocumentedConvention(
            "empty-mean-zero", f"{LOSS}#L3099-L3125",
            "mean divides by count + (count == 0) (also weight sums): all ignored or zero total "
            "weight gives 0, not NaN (a zero-size input still gives NaN, L3104)",
            kind="defect",
            contradicts=("the docs are silent; the documented means are 0/0 there, and paddle's "
                         "own empty-input branch returns NaN on purpose ('when reduction is "
                         "mean, use paddle.nan'), so two 'nothing to average' paths disagree"),
            demo={"ignore_index": 2, "ignore_frac": 1.0}),
        DocumentedConvention(
            "softmax-shift-clipped-64", f"{TAG}/paddle/phi/kernels/funcs/softmax_impl.h#L33-L39",
            "ValueClip: shifted logits x - max are clipped at -64 before exp, so lp_c >= "
            "-64 - log C; per-position losses cap near 64 + log C",
            kind="defect",
            contradicts=("the documented loss is -logits_label + log(sum_i exp(logits_i)) with "
                         "'a more numerically stable computing' and no clip; the clip caps the "
                         "loss (64.41 for 102.41: mathematics), and after the max shift it is "
                         "not needed for stability"),
            upstream="https://github.com/PaddlePaddle/Paddle/issues/20994",
            demo={"dist": "large", "reduction": "sum"}),
        DocumentedConvention(
            "log-zero-1e20", f"{TAG}/paddle/phi/kernels/funcs/cross_entropy.h#L25-L45",
            "TolerableValue: -log(0) = inf is replaced by 1e20 (use_softmax=False; soft labels "
            "give q_c * 1e20)",
            kind="defect",
            contradicts=("the documented loss is -log(P) (inf at P = 0); the loss is capped at "
                         "1e20 while the gradient is -inf, so forward and gradient disagree"),
            upstream="https://github.com/PaddlePaddle/Paddle/issues/9883",
            demo={"input": "probs", "dist": "probs-zeros", "smoothing": 0.1, "reduction": "sum",
                  "dtype": "float32"}),
        DocumentedConvention(
            "mean-counts-label-elements", f"{LOSS}#L3113-L3131",
            "mean with ignore_index >= 0 when the label is a [..., C] float tensor (soft labels "
            "with ignore_index=0, or any label_smoothing): mask = label != ignore_index counts "
            "label elements, not positions (about N*C)",
            kind="defect",
            contradicts=("the docs say ignore_index is 'only valid when soft_label = False', yet "
                         "ignore_index=0 with soft labels (or any smoothing) changes the mean: "
                         "it divides by the label elements that differ from ignore_index, about "
                         "C times the number of positions; the guard tests > 0, not >= 0"),
            demo={"label": "soft", "ignore_index": 0}),
        DocumentedConvention(
            "smoothing-skips-ignore", f"{LOSS}#L3008-L3021",
            "label_smoothing > 0 turns hard labels into smoothed one-hot rows and switches to the "
            "soft path: ignore_index is never applied (one_hot raises on a negative or >= C "
            "ignore_index value in the labels)",
            kind="defect",
            contradicts=("the docs allow integer labels with label_smoothing and say a label "
                         "equal to ignore_index is ignored; with smoothing it is an ordinary "
                         "class, and the default -100 in the labels raises"),
            demo={"ignore_index": 2, "ignore_frac": 0.5, "smoothing": 0.1, "reduction": "sum",
                  "dtype": "float32"}),
        DocumentedConvention(
            "smoothing-coefficients-float32", f"{COMMON}#L2663",
            "label_smooth takes float(epsilon) as a float32 attribute and the one-hot rows are "
            "float32: q' = f32(1 - f32(e)) * q + f32(e)/C, relative error ~1e-7 in float64",
            kind="defect",
            contradicts=("a float64 call smooths with float32 coefficients: the documented "
                         "(1 - epsilon) * label + epsilon / C is off by about 1e-7 relative, "
                         "beyond float64's rounding (precision, minor)"),
            demo={"smoothing": 0.1, "reduction": "sum"}),
        DocumentedConvention(
            "grad-assumes-normalised-labels",
            f"{TAG}/paddle/phi/kernels/cpu/cross_entropy_grad_kernel.cc",
            "the soft-label gradient kernel computes softmax - label, assuming each label row "
            "sums to 1 (smoothed float32 rows do not, exactly)",
            quote=("If soft_label=True and no label_smoothing, the shape and data type should be "
                   "same with input, and the sum of the labels for each sample should be 1."),
            upstream="https://github.com/PaddlePaddle/Paddle/issues/63678",
            demo={"smoothing": 0.1}),
        DocumentedConvention(
            "smoothing-classes-from-last-axis", f"{COMMON}#L2663",
            "label_smooth divides epsilon by label.shape[-1], not by C, when the class axis is "
            "not last",
            kind="defect",
            contradicts=("the docs describe smoothing towards a uniform distribution over the "
                         "classes; with axis != -1 the smoothed rows do not sum to 1 (0.88), "
                         "and the gradient is then wrong too"),
            # hard labels: the one-hot of depth shape[-1] then fails on the labels' shape or
            # values (the call is refused)
            raises=(r"should in same shape in dimensions except axis|should be less than "
                    r"Input\(depth\)|the axis dimension of Input\(X\) and Input\(Label\) "
                    r"should be equal"),
            demo={"shape": [4, 6, 5], "axis": 1, "label": "soft", "smoothing": 0.2,
                  "reduction": "sum", "dtype": "float32"}),
        DocumentedConvention(
            "weighted-dense-labels-last-axis-only", LOSS,
            "class weights with soft or smoothed labels are applied by a matmul that assumes "
            "the class axis last: with another axis the call is refused",
            kind="defect",
            contradicts=("the docs take any axis ('axis (int, optional): The index of dimension "
                         "to perform softmax calculations') and a weight of shape [C] with soft "
                         "labels; the same call without weight, or with the axis last, works"),
            raises=r"In operator matmul, the \[\d\] dimension of Input\(X\) must be equal",
            demo={"shape": [4, 6, 5], "axis": 1, "label": "soft", "weight": "random",
                  "reduction": "mean"}),
        DocumentedConvention(
            "smoothing-cannot-ignore", f"{LOSS}#L3008-L3021",
            "label_smoothing one-hot encodes the labels first, so a label equal to a negative "
            "ignore_index is refused by one_hot",
            kind="defect",
            contradicts=("the docs give ignore_index ('Specifies a target value that is "
                         "ignored') and label_smoothing together with no restriction, and torch's "
                         "same call ignores those positions; paddle raises instead"),
            raises=r"Expected p_in_data\[i\] >= 0",
            scope={"label": ("hard", "hard-keepdim")}, excludes={"smoothing": (0.0,)},
            demo={"smoothing": 0.1, "ignore_frac": 0.5, "reduction": "mean"}),
        DocumentedConvention(
            "none-keeps-class-axis", f"{LOSS}#L3152-L3155",
            "reduction='none' keeps a size-1 class axis for soft labels and for hard labels "
            "given with the size-1 axis",
            quote=("If reduction is 'none': 1. If soft_label = False, the dimension of return "
                   "value is the same with label. 2. if soft_label = True, the dimension of "
                   "return value is [N_1, N_2, ..., N_k, 1]."),
            scope={"label": ("soft", "hard-keepdim")},
            demo={"label": "soft", "reduction": "none"}),
        DocumentedConvention(
            "none-keeps-class-axis", f"{LOSS}#L3015-L3021",
            "label_smoothing with integer labels of the input's shape without the class axis: "
            "the 'none' loss keeps a size-1 class axis",
            kind="defect",
            contradicts=("the docs promise the label's shape for soft_label=False ('the "
                         "dimension of return value is the same with label'); with smoothing, "
                         "[N] labels give an [N, 1] loss"),
            scope={"label": ("hard",)}, excludes={"smoothing": (0.0,)},
            demo={"smoothing": 0.1, "reduction": "none", "dtype": "float32"}),
    )

    def dispatch(self):
        from paddle.base import core  # paddle's own report of the CPU kernels it may take

        return {name: bool(getattr(core, name)()) for name in
                ("supports_avx512f", "supports_vnni", "supports_bfloat16") if hasattr(core, name)}

    def setup(self):
        return paddle_setup(device=accelerator(self.device))

    def unsupported_reason(self, params):
        if accelerator(self.device) == "gpu" and params["dtype"] in GPU_ONLY_DTYPES:
            # GPU kernels exist for half precision: check everything else as for float32.
            return super().unsupported_reason({**params, "dtype": "float32"})
        # Not marked unsupported on purpose (paddle raises, which is reported as `error`):
        # label smoothing with hard labels and axis != -1 (one_hot uses input.shape[-1]), and
        # soft or smoothed labels with weight and axis != -1 (matmul assumes the class axis last).
        return super().unsupported_reason(params)

    program = (paddle_cross_entropy, paddle_tensor)

    def preamble(self):
        return paddle_setup, {"device": accelerator(self.device)}

    def arguments(self, params, check):
        return {"dtype": params["dtype"], "ignore_index": params["ignore_index"],
                "reduction": params["reduction"], "soft_label": params["label_kind"] == "soft",
                "axis": params["axis"], "use_softmax": params["use_softmax"],
                "label_smoothing": params["label_smoothing"], "want_grad": check == "grad",
                "call": params.get("call", "functional"), "mode": params.get("mode", "eager"),
                "passed": passed(params, PADDLE_ARGUMENTS),
                "probs_from_logits": bool(params.get("probs_from_logits"))}
