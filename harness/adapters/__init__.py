"""The adapter registry: names to `module:Class` references, open to third parties.

Built-in adapters are found in this package: every `*_adapter.py` module's Adapter classes. Third-party adapters register under the entry-point
group `xent_parity.adapters` (name = "module:Class"), or are named on the command line as
`module:Class`. Nothing here imports a framework, and a third-party module is imported only when
the user names it or has installed it as an entry point.

>>> resolve("torch")
('torch', 'harness.adapters.torch_adapter:TorchAdapter')
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

from harness.adapters.base import Adapter

ENTRY_POINT_GROUP = "xent_parity.adapters"



def _discover() -> dict[str, str]:
    """The built-in adapters: every Adapter subclass with a `name` defined in a module
    `harness/adapters/*_adapter.py`, in the order of their `position`. Adding a framework is one
    such file (its module imports no framework: they are imported in `setup`)."""
    found = []
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.endswith("_adapter"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for attr, obj in vars(module).items():
            if (isinstance(obj, type) and issubclass(obj, Adapter) and obj.__module__ == module.__name__
                    and "name" in vars(obj)):
                found.append((obj.position, obj.name, f"{module.__name__}:{attr}"))
    return {name: ref for _, name, ref in sorted(found)}


BUILTIN: dict[str, str] = _discover()


def builtin_classes() -> list[type[Adapter]]:
    """The built-in adapter classes, in BUILTIN's order (no framework is imported)."""
    return [load_class(ref) for ref in BUILTIN.values()]


def entry_point_adapters() -> dict[str, str]:
    return {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def known_adapters() -> dict[str, str]:
    """Every adapter name the user could run: built-ins, then installed entry points."""
    return {**entry_point_adapters(), **BUILTIN}


def resolve(spec: str) -> tuple[str, str]:
    """A registered name or a `module:Class` reference -> (name, `module:Class`).

    `NAME@LABEL` runs adapter NAME a second time under its own name, e.g. `paddle@3.2.2` with
    `--python paddle@3.2.2=/path/to/other/venv/bin/python` for a framework-upgrade comparison.
    """
    if "@" in spec:
        base, _, label = spec.partition("@")
        if not label:
            raise ValueError(f"adapter {spec!r}: empty label after '@'")
        return spec, resolve(base)[1]
    known = known_adapters()
    if spec in known:
        return spec, known[spec]
    if ":" in spec:
        cls = load_class(spec)
        return getattr(cls, "name", spec), spec
    raise ValueError(f"unknown adapter {spec!r}; known: {', '.join(sorted(known))} "
                     "(or give module:Class)")


def registered(name: str) -> str | None:
    """The `module:Class` of a registered adapter name (built-in or installed entry point, or
    NAME@LABEL of one), else None. Never imports anything: what a results file names is data,
    and a `module:Class` read from one is never loaded."""
    base = name.partition("@")[0]
    return known_adapters().get(base) if isinstance(name, str) else None


def load_class(ref: str) -> type[Adapter]:
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"adapter reference {ref!r} is not of the form module:Class")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot load adapter {ref!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a broken third-party module must not crash the CLI
        raise ValueError(f"cannot load adapter {ref!r}: {type(e).__name__}: {e}") from None
    if not (isinstance(obj, type) and issubclass(obj, Adapter)):
        raise ValueError(f"{ref!r} is not an Adapter subclass")
    return obj
