"""Build frozen attrs settings classes from TOML tables, collecting every problem instead of stopping at the first."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, cast, get_args, get_origin, get_type_hints

import attrs

T = TypeVar("T")

_MISSING = object()


class SettingsProblems(Exception):
    """Raised by `build_settings` with one line per missing or invalid setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def build_settings(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Make `cls` (an attrs class) from `data`; unknown keys, missing required keys and wrong types are all reported."""
    problems: list[str] = []
    value = _build_attrs(cls, data, where, problems)
    if problems:
        raise SettingsProblems(problems)
    return typing.cast(T, value)


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _build_attrs(cls: type[Any], data: Any, where: str, problems: list[str]) -> Any:
    if not isinstance(data, Mapping):
        problems.append(f"{where or 'config'}: expected a table, got {type(data).__name__}")
        return None
    hints = get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    table = cast(Mapping[str, Any], data)
    for key in table:
        if key not in fields:
            problems.append(f"{_name(where, str(key))}: unknown setting")
    kwargs: dict[str, Any] = {}
    before = len(problems)
    for name, field in fields.items():
        path = _name(where, name)
        if name in data:
            mark = len(problems)
            kwargs[name] = _convert(hints[name], table[name], path, problems)
            if field.validator is not None and len(problems) == mark:
                try:
                    field.validator(None, field, kwargs[name])
                except (ValueError, TypeError) as exc:
                    # attrs' validators put the readable message first, then the Attribute and the values
                    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
                    problems.append(f"{path}: {message}")
        elif field.default is attrs.NOTHING:
            if attrs.has(hints[name]):
                kwargs[name] = _build_attrs(hints[name], {}, path, problems)
            else:
                problems.append(f"{path}: required setting is missing")
    if len(problems) != before:
        return None
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        problems.append(f"{where or 'config'}: {exc}")
        return None


def _convert(hint: Any, value: Any, path: str, problems: list[str]) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, path, problems)
        for option in inner:
            trial: list[str] = []
            result = _convert(option, value, path, trial)
            if not trial:
                return result
        problems.append(f"{path}: {value!r} is not one of the accepted types")
        return None
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            problems.append(f"{path}: must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return None
        (item,) = get_args(hint)[:1] or (Any,)
        items = [_convert(item, v, f"{path}[{i}]", problems) for i, v in enumerate(typing.cast(list[Any], value))]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append(f"{path}: expected a table, got {type(value).__name__}")
            return None
        _, item = get_args(hint)
        return {
            str(k): _convert(item, v, f"{path}.{k}", problems) for k, v in typing.cast(Mapping[Any, Any], value).items()
        }
    if hint is Any:
        return value
    if isinstance(hint, type) and attrs.has(hint):
        return _build_attrs(hint, value, path, problems)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: expected a number, got {value!r}")
            return None
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer, got {value!r}")
            return None
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            problems.append(f"{path}: expected {'text' if hint is str else 'true or false'}, got {value!r}")
            return None
        return value
    problems.append(f"{path}: unsupported setting type {hint!r}")
    return None


def positive(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """attrs validator: the number must be greater than zero."""
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be greater than 0, got {value}")


def non_negative(_instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    """attrs validator: the number must be zero or more."""
    if value is not None and value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


def http_url(_instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """attrs validator: an http(s) URL, when given."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{attribute.name} must start with http:// or https://, got {value!r}")
