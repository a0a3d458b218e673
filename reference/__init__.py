"""Float64 reference for softmax cross entropy (the canonical signature of SPEC.md), with named conventions.

`cross_entropy` and `cross_entropy_grad` implement docs/semantics.md on plain numpy arrays, within
a few float64 ULPs of the exact result; `conventions` names the points where frameworks differ.
`cross_entropy_grad_blocks` yields the same gradient block by block, for inputs whose float64
gradient should never exist whole.
numpy and the standard library only; no framework is ever imported here.
"""

from reference.conventions import CANONICAL, CONVENTIONS, Conventions, resolve_conventions
from reference.cross_entropy import cross_entropy, cross_entropy_grad, cross_entropy_grad_blocks

__all__ = [
    "CANONICAL",
    "CONVENTIONS",
    "Conventions",
    "cross_entropy",
    "cross_entropy_grad",
    "cross_entropy_grad_blocks",
    "resolve_conventions",
]
