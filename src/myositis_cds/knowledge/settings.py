"""Site settings: the pack's [INTERP] defaults, with a site's overrides validated against them.

A settings file is TOML or JSON whose top-level keys are setting names (a TOML file may also put
them under ``[settings]``)::

    screening_window_days = 60
    tis_percent_change = "relative"

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
from myositis_cds.knowledge.pack import KnowledgePack, SettingSpec, SettingValue

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


def _check(spec: SettingSpec, value: object) -> SettingValue | FieldError:
    path = f"$.{spec.name}"
    unit = f" of {spec.unit}" if spec.unit else ""
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
