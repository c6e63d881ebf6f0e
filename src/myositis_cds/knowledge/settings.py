"""Site settings: the pack's [INTERP] defaults, with a site's overrides validated against them.

A settings file is TOML or JSON whose top-level keys are setting names (a TOML file may also put
them under ``[settings]``)::

    screening_window_days = 60
    tis_percent_change = "relative"
    childbearing_age = [12, 50]                  # a range [low, high]
    plausibility = { weight_kg = [0.3, 450] }    # a table: only the keys given change


Unknown names, values of the wrong kind, choices outside the allowed set and numbers below the
minimum are refused with a :class:`~myositis_cds.errors.SettingsError` naming each one.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from myositis_cds.errors import MISSING_VALUE, FieldError, SettingsError
from myositis_cds.knowledge.pack import KnowledgePack, Range, SettingSpec, SettingValue

__all__ = ["Settings", "load_settings_file", "resolve_settings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The values in force for one run, and which of them a site changed."""

    values: Mapping[str, SettingValue]
    overridden: frozenset[str]

    def get(self, name: str) -> SettingValue:
        return self.values[name]

    def integer(self, name: str) -> int:
        value = self.values[name]
        if not isinstance(value, int):
            msg = f"setting {name} is not an integer: {value!r}"
            raise TypeError(msg)
        return value

    def text(self, name: str) -> str:
        return str(self.values[name])

    def number(self, name: str) -> float:
        value = self.values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"setting {name} is not a number: {value!r}"
            raise TypeError(msg)
        return float(value)

    def range(self, name: str) -> Range:
        value = self.values[name]
        if not isinstance(value, tuple):
            msg = f"setting {name} is not a range: {value!r}"
            raise TypeError(msg)
        return value

    def table_number(self, name: str, key: str) -> float:
        entry = self._table(name)[key]
        if isinstance(entry, tuple):
            msg = f"setting {name}.{key} is a range, not a number"
            raise TypeError(msg)
        return entry

    def table_range(self, name: str, key: str) -> Range:
        entry = self._table(name)[key]
        if not isinstance(entry, tuple):
            msg = f"setting {name}.{key} is a number, not a range"
            raise TypeError(msg)
        return entry

    def _table(self, name: str) -> Mapping[str, float | Range]:
        value = self.values[name]
        if not isinstance(value, Mapping):
            msg = f"setting {name} is not a table: {value!r}"
            raise TypeError(msg)
        return value

    def describe(self, name: str) -> str:
        origin = "site setting" if name in self.overridden else "default"
        return f"{name} = {self.values[name]!r} ({origin})"


def resolve_settings(
    pack: KnowledgePack, overrides: Mapping[str, object] | None = None, *, source: str = "settings"
) -> Settings:
    """Defaults of ``pack`` with ``overrides`` applied; every problem is reported at once."""
    overrides = dict(overrides or {})
    nested = overrides.get("settings")
    if isinstance(nested, Mapping):
        del overrides["settings"]
        overrides.update({str(k): v for k, v in nested.items()})
    errors: list[FieldError] = []
    values: dict[str, SettingValue] = {name: spec.default for name, spec in pack.settings.items()}
    for name, value in overrides.items():
        spec = pack.settings.get(name)
        if spec is None:
            errors.append(
                FieldError(
                    path=f"$.{name}",
                    value=value,
                    expected=f"a setting of pack {pack.label}: {', '.join(sorted(pack.settings))}",
                )
            )
            continue
        checked = _check(spec, value)
        if isinstance(checked, FieldError):
            errors.append(checked)
        elif isinstance(checked, list):
            errors.extend(checked)
        else:
            values[name] = checked
    if errors:
        raise SettingsError(errors, source=source)
    return Settings(values=MappingProxyType(values), overridden=frozenset(overrides))


def load_settings_file(pack: KnowledgePack, path: Path) -> Settings:
    """Read a TOML (``.toml``) or JSON settings file and resolve it against ``pack``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(
            [FieldError(path="$", value=str(path), expected=f"a readable file ({exc.strerror})")],
            source=str(path),
        ) from None
    try:
        document: object = (
            tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
        )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(
            [FieldError(path="$", value=MISSING_VALUE, expected=f"valid TOML or JSON ({exc})")],
            source=str(path),
        ) from None
    if not isinstance(document, Mapping):
        raise SettingsError(
            [FieldError(path="$", value=document, expected="a table of setting names")],
            source=str(path),
        )
    return resolve_settings(pack, document, source=str(path))


def _check(spec: SettingSpec, value: object) -> SettingValue | FieldError | list[FieldError]:
    path = f"$.{spec.name}"
    unit = f" of {spec.unit}" if spec.unit else ""
    if spec.kind == "range":
        return _check_range(path, value, spec.minimum, unit)
    if spec.kind == "table":
        return _check_table(spec, value)
    if spec.kind == "choice":
        if isinstance(value, str) and value in spec.choices:
            return value
        return FieldError(path=path, value=value, expected=f"one of {list(spec.choices)}")
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if spec.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        return FieldError(path=path, value=value, expected=f"a whole number{unit}")
    if not is_number:
        return FieldError(path=path, value=value, expected=f"a number{unit}")
    assert isinstance(value, int | float)
    if spec.minimum is not None and value < spec.minimum:
        return FieldError(
            path=path, value=value, expected=f"a number ≥ {spec.minimum:g} {spec.unit or ''}".strip()
        )
    return value


def _check_range(path: str, value: object, minimum: float | None, unit: str) -> Range | FieldError:
    numbers = value if isinstance(value, list | tuple) else None
    if (numbers is None or len(numbers) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers)):
        return FieldError(path=path, value=value, expected=f"a range [low, high]{unit}")
    low, high = float(numbers[0]), float(numbers[1])
    if low > high:
        return FieldError(path=path, value=value, expected="a range [low, high] with low <= high")
    if minimum is not None and low < minimum:
        return FieldError(path=path, value=value, expected=f"a range whose low end is ≥ {minimum:g}")
    return (low, high)


def _check_table(spec: SettingSpec, value: object) -> SettingValue | list[FieldError]:
    """A site gives some keys of a table setting; the others keep their defaults."""
    default = spec.default
    assert isinstance(default, Mapping)
    if not isinstance(value, Mapping):
        return [FieldError(path=f"$.{spec.name}", value=value,
                           expected=f"a table with keys among: {', '.join(default)}")]
    merged: dict[str, float | Range] = dict(default)
    errors: list[FieldError] = []
    for key, entry in value.items():
        path = f"$.{spec.name}.{key}"
        if key not in default:
            errors.append(FieldError(path=path, value=entry,
                                     expected=f"a key of {spec.name}: {', '.join(default)}"))
            continue
        checked: float | Range | FieldError
        if isinstance(default[key], tuple):
            checked = _check_range(path, entry, spec.minimum, "")
        elif isinstance(entry, bool) or not isinstance(entry, int | float):
            checked = FieldError(path=path, value=entry, expected="a number")
        elif spec.minimum is not None and entry < spec.minimum:
            checked = FieldError(path=path, value=entry, expected=f"a number ≥ {spec.minimum:g}")
        else:
            checked = float(entry)
        if isinstance(checked, FieldError):
            errors.append(checked)
        else:
            merged[str(key)] = checked
    if errors:
        return errors
    return MappingProxyType(merged)
