"""Models built from values this package made itself, without validating them again.

:func:`trusted` gives what ``Model.model_construct(**values)`` gives (same ``__dict__``, same
``model_fields_set``, defaults filled in, ``model_post_init`` run), at a fraction of its cost on
the hot path: pydantic's ``model_construct`` asks ``inspect.signature`` about every default
factory on every call; here each model's defaults are looked up once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

Model = TypeVar("Model", bound=BaseModel)

# Each field in declaration order, with what fills it when missing: ("required", None),
# ("value", default) or ("factory", a zero-argument callable).
_Defaults = list[tuple[str, str, Any]]
_DEFAULTS: dict[type[BaseModel], _Defaults] = {}
_IMMUTABLE = (type(None), str, int, float, bool, bytes, tuple, frozenset)


def _defaults(cls: type[BaseModel]) -> _Defaults:
    found = _DEFAULTS.get(cls)
    if found is not None:
        return found
    if cls.model_config.get("extra") == "allow":
        raise TypeError(f"{cls.__name__} keeps extra fields: use model_construct")
    defaults: _Defaults = []
    for name, info in cls.model_fields.items():
        if (info.alias is not None and info.alias != name) or info.validation_alias is not None:
            raise TypeError(f"{cls.__name__}.{name}: aliased fields are not supported here")
        if info.default_factory is not None:
            if info.default_factory_takes_validated_data:
                raise TypeError(f"{cls.__name__}.{name}: factory takes validated data")
            defaults.append((name, "factory", info.default_factory))
        elif info.default is not PydanticUndefined:
            defaults.append((name, "value", info.default))
        else:
            defaults.append((name, "required", None))
    _DEFAULTS[cls] = defaults
    return defaults


def trusted(cls: type[Model], **values: Any) -> Model:
    """``cls.model_construct(**values)`` for a model that refuses extra fields (values naming
    no field are dropped, as model_construct drops them there)."""
    fields: dict[str, Any] = {}
    fields_set = set()
    for name, kind, default in _defaults(cls):
        if name in values:
            fields[name] = values[name]
            fields_set.add(name)
        elif kind == "factory":
            fields[name] = default()
        elif kind == "value":
            # as pydantic does: a mutable default is never shared
            fields[name] = default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)
    model = cls.__new__(cls)
    setattr_ = object.__setattr__
    setattr_(model, "__dict__", fields)
    setattr_(model, "__pydantic_fields_set__", fields_set)
    setattr_(model, "__pydantic_extra__", None)
    setattr_(model, "__pydantic_private__", None)
    if cls.__pydantic_post_init__:
        post_init: Callable[[Any], None] = model.model_post_init
        post_init(None)
    return model
