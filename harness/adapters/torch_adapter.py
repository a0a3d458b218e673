"""torch: `torch.nn.functional.cross_entropy` (call "functional") or `torch.nn.CrossEntropyLoss`
(call "module"), eager or through `torch.compile` (mode "compiled"), gradients by autograd.

torch has no class-axis argument and reads the classes at dim 1, so the adapter moves the class
axis there (and labels that have it, soft labels or labels keeping a size-1 class axis, with it),
unless a case with `defaults: true` leaves the axis to torch. Labels are otherwise passed as given:
torch refuses a kept size-1 class axis (`labels-without-class-axis`). Probability input has no
cross-entropy API in torch; for hard labels it is composed the way torch users do it,
`F.nll_loss(torch.log(p), ...)` (`nn.NLLLoss` for call "module").
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   passed)

DOC = "https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html"
LOSS_DOC = "https://docs.pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html"
SRC = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/LossNLL.cpp"
COMPILE_DOC = "https://docs.pytorch.org/docs/stable/generated/torch.compile.html"
# the case's keys -> torch's argument names (what `defaults: true` passes when the case sets it)
TORCH_ARGUMENTS = {"axis": "axis", "reduction": "reduction", "ignore_index": "ignore_index",
                   "smoothing": "label_smoothing", "weight": "weight"}


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


class TorchAdapter(Adapter):
    name = "torch"
    module = "torch"
    distribution = "torch"
    extra = "torch"
    position = 10
    # torch picks its kernels by its CPU capability; its oneDNN (mkldnn) and MKL read their own
    dispatch_variables = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
                          "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR")

    @classmethod
    def lower_dispatch(cls, level):
        isa = "AVX2" if level == "avx2" else "SSE41"
        return {"ATEN_CPU_CAPABILITY": "avx2" if level == "avx2" else "default",
                "ONEDNN_MAX_CPU_ISA": isa, "DNNL_MAX_CPU_ISA": isa}
    api = "torch.nn.functional.cross_entropy"
    capabilities = Capabilities(
        dtypes=("float16", "bfloat16", "float32", "float64"),
        features={"soft_label": NATIVE, "use_softmax": COMPOSED, "weight": NATIVE,
                  "ignore_index": NATIVE, "label_smoothing": NATIVE, "axis": COMPOSED,
                  "reduction_none": NATIVE, "reduction_sum": NATIVE, "reduction_mean": NATIVE,
                  "framework_probs": COMPOSED},  # torch.softmax, then nll_loss(log(p))
        devices=("cpu", "cuda"),
        calls={"functional": NATIVE, "module": NATIVE},  # F.cross_entropy, nn.CrossEntropyLoss
        modes={"eager": NATIVE, "compiled": NATIVE},  # torch.compile (inductor, C++ on CPU)
    )
    # measured on 1024 x 128000 (float32 and bfloat16): the forward allocates its log-softmax;
    # forward + backward the log-softmax, its gradient, the input's gradient and a cast copy
    memory_factors = {"forward": 1.5, "grad": 4.5}
    # kinds and evidence: docs/research-frameworks.md (torch); stable doc pages (the 2.13 pages
    # carry the same docstrings as the installed torch/nn/modules/loss.py)
    conventions = (
        DocumentedConvention(
            "soft-weight-per-class", LOSS_DOC,
            "probability targets: l_n = -sum_c w_c y_nc log p_nc; mean divides by N",
            quote=("[probability targets] l_n = - sum_{c=1}^C w_c log(exp(x_{n,c}) / sum_i "
                   "exp(x_{n,i})) y_{n,c} ... If reduction is not 'none' (default 'mean'), then "
                   "l(x, y) = sum_{n=1}^N l_n / N, if reduction = 'mean'"),
            upstream="https://github.com/pytorch/pytorch/issues/107680",
            demo={"label": "soft", "weight": "random", "reduction": "mean"}),
        DocumentedConvention(
            "zero-q-neg-inf-nan", LOSS_DOC,
            "probability targets: a class with target 0 and a -inf logit contributes 0 * -inf = "
            "NaN; the class-index path gives the finite loss",
            kind="defect",
            contradicts=("the docs are silent on -inf logits; for the same one-hot row the "
                         "class-index path gives the finite loss (0.000587), torch's own "
                         "gradient of the NaN loss is finite, and torch.special.xlogy defines "
                         "0 * log 0 = 0 (mathematics: a zero target adds nothing)"),
            upstream="",
            demo={"label": "soft", "dist": "neginf", "reduction": "none"}),
        DocumentedConvention(
            "smoothing-weighted-torch", LOSS_DOC,
            "class indices + label_smoothing + weight: the mixture target weighted per class, "
            "mean divided by sum_n w_{y_n} (the class-index mean)",
            quote=("label_smoothing: ... The targets become a mixture of the original ground "
                   "truth and a uniform distribution ... [class indices, mean] sum_{n=1}^N "
                   "l_n / sum_{n=1}^N w_{y_n} 1{y_n != ignore_index}"),
            upstream="https://github.com/pytorch/pytorch/pull/63122",
            demo={"smoothing": 0.1, "weight": "random", "reduction": "mean"}),
        DocumentedConvention(
            "labels-without-class-axis", LOSS_DOC,
            "class-index targets have the input's shape without the class dimension: labels "
            "that keep a size-1 class axis ([N, 1] for an [N, C] input) are refused",
            quote=("Target: If containing class indices, shape (), (N) or (N, d_1, d_2, ..., "
                   "d_K) with K >= 1 in the case of K-dimensional loss where each value should "
                   "be between [0, C)"),
            raises=(r"0D or 1D target tensor expected|Expected target size|only batches of "
                    r"spatial targets supported|size mismatch \(got input: \[\d+\], target"),
            scope={"label": ("hard-keepdim",)},
            demo={"label": "hard-keepdim", "reduction": "mean"}),
        DocumentedConvention(
            "class-axis-1-by-default", LOSS_DOC,
            "torch has no class-axis argument: the classes are dim 1 (dim 0 of a 1-D input); a "
            "call that leaves the axis to torch reads an [N, d, C] input as N x d classes",
            quote=("Input: Shape (C), (N, C) or (N, C, d_1, d_2, ..., d_K) with K >= 1 in the "
                   "case of K-dimensional loss ... where: C = number of classes, N = batch size"),
            # class-index targets shaped for the last axis are then refused: their shape is not
            # the input's without dim 1
            raises=r"Expected target size|0D or 1D target tensor expected",
            scope={"leaves": ("axis",)},
            demo={"defaults": True, "shape": [2, 3, 4], "label": "soft"}),
    )

    def dispatch(self):
        import torch

        return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "mkldnn": bool(torch.backends.mkldnn.is_available())}

    def setup(self):
        return torch_setup(device=self.torch_device)

    @property
    def torch_device(self):
        return "cuda" if self.device in ("cuda", "gpu") else "cpu"

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and not params["use_softmax"] and (
                params["label_kind"] == "soft" or params["label_smoothing"] > 0):
            reason = ("use_softmax=False: torch has no probability-input cross entropy; it is "
                      "composed as nll_loss(log(p)), which takes neither soft labels nor smoothing")
        return reason

    program = (torch_cross_entropy, torch_tensor)

    def preamble(self):
        return torch_setup, {"device": self.torch_device}

    def arguments(self, params, check):
        return {"dtype": params["dtype"], "axis": params["axis"],
                "soft_label": params["label_kind"] == "soft",
                "use_softmax": params["use_softmax"], "reduction": params["reduction"],
                "ignore_index": params["ignore_index"],
                "label_smoothing": params["label_smoothing"], "want_grad": check == "grad",
                "call": params.get("call", "functional"), "mode": params.get("mode", "eager"),
                "passed": passed(params, TORCH_ARGUMENTS),
                "probs_from_logits": bool(params.get("probs_from_logits")),
                "device": self.torch_device}
