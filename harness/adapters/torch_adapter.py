"""torch: `torch.nn.functional.cross_entropy`, gradients by autograd.

torch wants the class axis at dim 1, so the adapter moves it there (and the soft labels with it).
Probability input has no cross-entropy API in torch; for hard labels it is composed the way torch
users do it, `F.nll_loss(torch.log(p), ...)`.
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention

DOC = "https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html"
LOSS_DOC = "https://docs.pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html"
SRC = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/LossNLL.cpp"


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


def torch_cross_entropy(x, label, weight=None, g=None, *, dtype, axis, soft_label, label_keepdim,
                        use_softmax, reduction, ignore_index, label_smoothing, want_grad,
                        device="cpu"):
    """F.cross_entropy with the class axis moved to dim 1 (nll_loss(log(p)) for probabilities);
    the loss, or the input's gradient by autograd, as numpy with torch's dtype name."""
    import torch
    import torch.nn.functional as F

    xt = torch_tensor(x, dtype, device, requires_grad=want_grad)
    inp = torch.movedim(xt, axis, 1) if xt.ndim > 1 else xt
    w = None if weight is None else torch_tensor(weight, dtype, device)
    if soft_label:
        t = torch_tensor(label, dtype, device)
        t = torch.movedim(t, axis, 1) if t.ndim > 1 else t
    else:
        t = torch_tensor(np.squeeze(label, axis=axis) if label_keepdim else label, dtype, device)
    # ignore_index goes to torch for soft labels too: torch itself rejects it with probability
    # targets (only the default -100 is allowed there)
    with torch.set_grad_enabled(want_grad):
        if use_softmax:
            out = F.cross_entropy(inp, t, weight=w, reduction=reduction,
                                  ignore_index=ignore_index, label_smoothing=label_smoothing)
        else:
            out = F.nll_loss(torch.log(inp), t, weight=w, reduction=reduction,
                             ignore_index=ignore_index)
    if want_grad:
        if reduction == "none":
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
                  "reduction_none": NATIVE, "reduction_sum": NATIVE, "reduction_mean": NATIVE},
        devices=("cpu", "cuda"),
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
                "label_keepdim": params["label_kind"] == "hard-keepdim",
                "use_softmax": params["use_softmax"], "reduction": params["reduction"],
                "ignore_index": params["ignore_index"],
                "label_smoothing": params["label_smoothing"], "want_grad": check == "grad",
                "device": self.torch_device}
