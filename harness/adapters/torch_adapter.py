"""torch: `torch.nn.functional.cross_entropy`, gradients by autograd.

torch wants the class axis at dim 1, so the adapter moves it there (and the soft labels with it).
Probability input has no cross-entropy API in torch; for hard labels it is composed the way torch
users do it, `F.nll_loss(torch.log(p), ...)`.
"""

from __future__ import annotations

import numpy as np

from harness.adapters.base import (COMPOSED, NATIVE, Adapter, Capabilities, DocumentedConvention,
                                   Output, Unsupported, squeeze_label)

DOC = "https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html"
LOSS_DOC = "https://docs.pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html"
SRC = "https://github.com/pytorch/pytorch/blob/main/aten/src/ATen/native/LossNLL.cpp"


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
            upstream="https://github.com/pytorch/pytorch/issues/107680"),
        DocumentedConvention(
            "zero-q-neg-inf-nan", LOSS_DOC,
            "probability targets: a class with target 0 and a -inf logit contributes 0 * -inf = "
            "NaN; the class-index path gives the finite loss",
            kind="defect",
            contradicts=("the docs are silent on -inf logits; for the same one-hot row the "
                         "class-index path gives the finite loss (0.000587), torch's own "
                         "gradient of the NaN loss is finite, and torch.special.xlogy defines "
                         "0 * log 0 = 0 (mathematics: a zero target adds nothing)"),
            upstream=""),
        DocumentedConvention(
            "smoothing-weighted-torch", LOSS_DOC,
            "class indices + label_smoothing + weight: the mixture target weighted per class, "
            "mean divided by sum_n w_{y_n} (the class-index mean)",
            quote=("label_smoothing: ... The targets become a mixture of the original ground "
                   "truth and a uniform distribution ... [class indices, mean] sum_{n=1}^N "
                   "l_n / sum_{n=1}^N w_{y_n} 1{y_n != ignore_index}"),
            upstream="https://github.com/pytorch/pytorch/pull/63122"),
    )

    def dispatch(self):
        torch = self.torch
        return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
                "mkldnn": bool(torch.backends.mkldnn.is_available())}

    def setup(self):
        import torch

        self.torch = torch
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        self.dev = torch.device("cuda" if self.device in ("cuda", "gpu") else "cpu")
        return {"torch.use_deterministic_algorithms": True, "allow_tf32": False,
                "num_threads": torch.get_num_threads(), "device": str(self.dev)}

    def unsupported_reason(self, params):
        reason = super().unsupported_reason(params)
        if reason is None and not params["use_softmax"] and (
                params["label_kind"] == "soft" or params["label_smoothing"] > 0):
            reason = ("use_softmax=False: torch has no probability-input cross entropy; it is "
                      "composed as nll_loss(log(p)), which takes neither soft labels nor smoothing")
        return reason

    def _tensor(self, a, dtype_name, requires_grad=False):
        torch = self.torch
        t = torch.from_numpy(np.array(a, order="C")).to(self.dev)  # keeps 0-d arrays 0-d
        if t.is_floating_point():
            t = t.to(getattr(torch, dtype_name))
        return t.requires_grad_(requires_grad)

    def _loss(self, inputs, params, requires_grad):
        torch = self.torch
        F = torch.nn.functional
        dt, axis = params["dtype"], params["axis"]
        x = self._tensor(inputs.x, dt, requires_grad)
        xt = torch.movedim(x, axis, 1) if x.ndim > 1 else x
        weight = None if inputs.weight is None else self._tensor(inputs.weight, dt)
        if params["label_kind"] == "soft":
            label = self._tensor(inputs.label, dt)
            label = torch.movedim(label, axis, 1) if label.ndim > 1 else label
        else:
            label = self._tensor(squeeze_label(inputs.label, params), dt)
        # ignore_index goes to torch for soft labels too: torch itself rejects it with
        # probability targets (only the default -100 is allowed there)
        kw = dict(weight=weight, reduction=params["reduction"], ignore_index=params["ignore_index"])
        if params["use_softmax"]:
            loss = F.cross_entropy(xt, label, label_smoothing=params["label_smoothing"], **kw)
        else:
            loss = F.nll_loss(torch.log(xt), label, **kw)
        return x, loss

    def forward(self, inputs, params):
        with self.torch.no_grad():
            _, loss = self._loss(inputs, params, False)
        return self._out(loss, params)

    def gradient(self, inputs, params):
        x, loss = self._loss(inputs, params, True)
        if params["reduction"] == "none":
            loss.backward(self._tensor(inputs.grad_output, params["dtype"]))
        else:
            loss.backward()
        if x.grad is None:
            raise Unsupported("autograd produced no gradient")
        return self._out(x.grad, params)

    def _out(self, t, params):
        name = str(t.dtype).replace("torch.", "")
        return Output(t.detach().to("cpu").float().numpy() if name == "bfloat16"
                      else t.detach().to("cpu").numpy(), name)

    def snippet(self, params, check):
        dt, axis = params["dtype"], params["axis"]
        lines = ["import torch", "import torch.nn.functional as F",
                 f"xt = torch.tensor(x).to(torch.{dt}).requires_grad_({check == 'grad'})",
                 f"inp = torch.movedim(xt, {axis}, 1) if xt.ndim > 1 else xt",
                 f"w = None if weight is None else torch.tensor(weight).to(torch.{dt})"]
        if params["label_kind"] == "soft":
            lines.append(f"t = torch.tensor(label).to(torch.{dt})")
            lines.append(f"t = torch.movedim(t, {axis}, 1) if t.ndim > 1 else t")
        else:
            sq = f".squeeze({axis})" if params["label_kind"] == "hard-keepdim" else ""
            lines.append(f"t = torch.tensor(label){sq}")
        extra = f", ignore_index={params['ignore_index']}"
        if params["use_softmax"]:
            lines.append(f"out = F.cross_entropy(inp, t, weight=w, reduction={params['reduction']!r}"
                         f"{extra}, label_smoothing={params['label_smoothing']})")
        else:
            lines.append(f"out = F.nll_loss(torch.log(inp), t, weight=w, "
                         f"reduction={params['reduction']!r}{extra})")
        if check == "grad":
            if params["reduction"] == "none":
                lines.append(f"out.backward(torch.tensor(g).to(torch.{dt}))")
            else:
                lines.append("out.backward()")
            lines.append("grad = xt.grad.float().numpy()")
        else:
            lines.append("loss = out.detach().float().numpy()")
        return "\n".join(lines) + "\n"
