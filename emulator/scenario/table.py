"""Strict, typed access to one table of a scenario (TOML or a dict). Pure.

Every read names the key it reads; :meth:`Table.finish` turns any key no
one read into an error naming it, so a typo in a scenario file is never
silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from .exceptions import ScenarioError

__all__ = ["Table"]

_T = TypeVar("_T")
_N = TypeVar("_N", int, float)


class Table:
    """Typed, strict access to one TOML table; :meth:`finish` rejects unknown keys."""

    def __init__(self, source: str, path: str, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(source, path, f"expected a table, got {_kind(data)}")
        self.source = source
        self.path = path
        self.data = data
        self.used: set[str] = set()

    def error(self, key: str, problem: str) -> ScenarioError:
        return ScenarioError(self.source, self._key(key), problem)

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else self.path or key

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.data.get(key)

    def _typed(self, key: str, types: type | tuple[type, ...], what: str, default: _T) -> Any:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) and bool not in (
            types if isinstance(types, tuple) else (types,)
        ):
            raise self.error(key, f"expected {what}, got a boolean")
        if not isinstance(value, types):
            raise self.error(key, f"expected {what}, got {_kind(value)} {value!r:.60}")
        return value

    def text(self, key: str, default: str) -> str:
        return self._text(key, cast(str, self._typed(key, str, "a string", default)))

    def optional_str(self, key: str) -> str | None:
        value = cast("str | None", self._typed(key, str, "a string", None))
        return None if value is None else self._text(key, value)

    def _text(self, key: str, value: str) -> str:
        # A lone surrogate (from JSON given to the admin API) can never be sent as UTF-8:
        # a scenario holding one could never be served.
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise self.error(key, f"holds a lone surrogate at character {exc.start}, which "
                             "is not text") from None  # fmt: skip
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return cast(bool, self._typed(key, bool, "true or false", default))

    def optional_bool(self, key: str) -> bool | None:
        return cast("bool | None", self._typed(key, bool, "true or false", None))

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = cast(int, self._typed(key, int, "an integer", default))
        return self._ranged(key, value, minimum, maximum)

    def optional_int(
        self, key: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        value = cast("int | None", self._typed(key, int, "an integer", None))
        return None if value is None else self._ranged(key, value, minimum, maximum)

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = float(self._typed(key, (int, float), "a number", default))
        if value != value or value in (float("inf"), float("-inf")):
            raise self.error(key, "expected a finite number")
        return self._ranged(key, value, minimum, maximum)

    def int_list(self, key: str, *, minimum: int) -> list[int]:
        value = self._typed(key, list, "a list of integers", [])
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.error(key, f"expected a list of integers, got {value!r:.60}")
        return [self._ranged(key, v, minimum, None) for v in value]

    def number_list(self, key: str, *, longest: int) -> list[float]:
        """A list of 1 to ``longest`` numbers (not given: none)."""
        value = self._typed(key, list, "a list of numbers", [])
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        if not numbers or len(value) > longest or (key in self.data and not value):
            raise self.error(key, f"must be a list of 1 to {longest:,} numbers")
        return [float(v) for v in value]

    def choices(
        self, key: str, options: Iterable[str], default: tuple[str, ...]
    ) -> tuple[str, ...]:
        """A list of distinct values, each one of ``options`` (absent: ``default``)."""
        options = tuple(options)
        value = self._typed(key, list, "a list of strings", None)
        if value is None:
            return default
        wrong = [v for v in value if v not in options]
        if wrong or not value:
            raise self.error(
                key,
                f"expected a non-empty list of {', '.join(map(repr, options))}"
                + (f", got {wrong[0]!r:.60}" if wrong else ""),
            )
        return tuple(dict.fromkeys(cast("list[str]", value)))

    def choice(self, key: str, options: Iterable[str], default: str | None) -> str:
        options = tuple(options)
        value = self._get(key)
        if value is None:
            if default is None:
                raise self.error(key, f"is required: one of {', '.join(map(repr, options))}")
            return default
        if value not in options:
            raise self.error(
                key, f"expected one of {', '.join(map(repr, options))}, got {value!r}"
            )
        return cast(str, value)

    def mapping(self, key: str) -> dict[str, Any] | None:
        """A table's value as it is (a JSON schema, structured content); None: not given."""
        return cast("dict[str, Any] | None", self._typed(key, dict, "a table", None))

    def table(self, key: str) -> Table:
        return Table(self.source, self._key(key), self._get(key) or {})

    def tables(self, key: str, *, limit: int) -> list[Table]:
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.error(key, f"expected an array of tables ([[{key}]]), got {_kind(value)}")
        if len(value) > limit:
            raise self.error(key, f"at most {limit:,} entries, got {len(value):,}")
        return [Table(self.source, f"{self._key(key)}[{i}]", v) for i, v in enumerate(value)]

    def _ranged(self, key: str, value: _N, minimum: float | None, maximum: float | None) -> _N:
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}, got {value}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used))
            raise self.error(unknown[0], f"unknown key (known here: {known})")


def _kind(value: Any) -> str:
    return {
        dict: "a table",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
    }.get(type(value), type(value).__name__)
