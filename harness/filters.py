"""pytest-style `-k` expressions over names: `and`, `or`, `not`, parentheses, substring terms.

>>> keyword_matches("soft and not f16", "soft-mean-w=none-ii=-100-ax=-1-f32-8x5")
True
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
MAX_DEPTH = 50  # parentheses and `not`s nested: more is no filter a person writes


def keyword_matches(expr: str, name: str) -> bool:
    tokens = _TOKEN.findall(expr)
    pos = 0
    depth = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or():
        v = parse_and()
        while peek() == "or":
            take()
            v = parse_and() or v
        return v

    def parse_and():
        v = parse_not()
        while peek() == "and":
            take()
            v = parse_not() and v
        return v

    def parse_not():
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise ValueError(f"-k {expr[:60]!r}...: nested more than {MAX_DEPTH} deep")
        try:
            return _parse_not()
        finally:
            depth -= 1

    def _parse_not():
        if peek() == "not":
            take()
            return not parse_not()
        if peek() == "(":
            take()
            v = parse_or()
            if peek() != ")":
                raise ValueError(f"-k {expr!r}: missing ')'")
            take()
            return v
        tok = take() if peek() is not None else None
        if tok is None or tok in ("and", "or", ")"):
            raise ValueError(f"-k {expr!r}: expected a term")
        return tok.lower() in name.lower()

    if not tokens:
        return True
    result = parse_or()
    if pos != len(tokens):
        raise ValueError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return result
