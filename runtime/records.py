"""Immutable records for the runtime's start-up path: `record()`, a `namedtuple` without its cost.

`collections.namedtuple` imports `collections` (and with it `operator`, `keyword`, `reprlib`) and
compiles a class with `exec` each time: together about 3.5 ms of every cold start for the dozen
records the runtime defines, measured with `./dev bench cold_start`. `record()` builds the same
kind of class, a tuple subclass with named read-only fields, defaults, equality, hashing,
unpacking and a readable repr, from plain functions and the C `_operator.itemgetter`.
"""

from __future__ import annotations

from _operator import itemgetter

TYPE_CHECKING = False  # typing costs ~12 ms of start-up; annotations are never evaluated
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any


def record(name: str, field_names: str, defaults: Sequence[Any] = ()) -> type[tuple[Any, ...]]:
    """A tuple subclass named `name` with fields `field_names` (space separated); the last
    `len(defaults)` fields take those defaults, as with `namedtuple`."""
    fields = tuple(field_names.split())
    count = len(fields)
    first_default = count - len(defaults)
    if first_default < 0:
        raise TypeError(f"{name}: more defaults than fields")
    default_values = dict(zip(fields[first_default:], defaults, strict=True))

    def __new__(cls: type[tuple[Any, ...]], *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        if len(args) == count and not kwargs:
            return tuple.__new__(cls, args)
        if len(args) > count:
            raise TypeError(f"{name}() takes {count} arguments but {len(args)} were given")
        values = list(args)
        for field in fields[len(args) :]:
            if field in kwargs:
                values.append(kwargs.pop(field))
            elif field in default_values:
                values.append(default_values[field])
            else:
                raise TypeError(f"{name}() missing argument {field!r}")
        if kwargs:
            raise TypeError(f"{name}() got unexpected arguments {sorted(kwargs)}")
        return tuple.__new__(cls, values)

    def __repr__(self: tuple[Any, ...]) -> str:
        shown = ", ".join(f"{field}={value!r}" for field, value in zip(fields, self, strict=True))
        return f"{type(self).__name__}({shown})"

    def __getnewargs__(self: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self)

    namespace: dict[str, Any] = {
        "__slots__": (),
        "_fields": fields,
        "__new__": __new__,
        "__repr__": __repr__,
        "__getnewargs__": __getnewargs__,
        "__match_args__": fields,
    }
    for index, field in enumerate(fields):
        namespace[field] = property(itemgetter(index), doc=f"Field {index}: {field}")
    return type(name, (tuple,), namespace)
