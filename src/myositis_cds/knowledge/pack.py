"""Knowledge packs: versioned clinical content with provenance, loaded from TOML.

A pack holds citations, thresholds (fixed numbers with unit and source), settings ([INTERP] values
a site may override) and rule metadata (stable ID, title, citations, thresholds and settings read,
rules required). The engine implements the rules; the pack says what they are and where every
number comes from. :func:`load_pack` lints the pack and refuses a broken one.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from myositis_cds.errors import KnowledgePackError
from myositis_cds.knowledge.labels import drug_name
from myositis_cds.knowledge.lint import lint_pack_document

__all__ = [
    "DEFAULT_PACK",
    "KnowledgePack",
    "PackText",
    "Range",
    "RuleMeta",
    "SettingSpec",
    "SettingValue",
    "TableValue",
    "Threshold",
    "load_pack",
    "parse_pack",
]

DEFAULT_PACK = "anti-mi2-dm"

Number = float | int
ThresholdValue = Number | tuple[Number, ...]
Range = tuple[float, float]
TableValue = Mapping[str, "float | Range"]
SettingValue = int | float | str | Range | TableValue


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    name: str
    value: ThresholdValue
    unit: str
    source: str
    provenance: str
    _floats: tuple[float, ...] = field(init=False, repr=False, compare=False)
    """The value(s) as floats, converted once: the engine reads thresholds thousands of times."""

    def __post_init__(self) -> None:
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        object.__setattr__(self, "_floats", tuple(float(v) for v in values))

    def number(self) -> float:
        if isinstance(self.value, tuple):
            msg = f"threshold {self.name} is a list, not a single number"
            raise TypeError(msg)
        return self._floats[0]

    def numbers(self) -> tuple[float, ...]:
        return self._floats


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingSpec:
    name: str
    default: SettingValue
    kind: str
    unit: str | None
    source: str
    provenance: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PackText:
    """A clinician-facing statement of the pack; ``{name}`` fields are filled in by the engine."""

    key: str
    text: str
    citations: tuple[str, ...] = ()

    def format(self, **values: object) -> str:
        return self.text.format(**values) if values else self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleMeta:
    id: str
    title: str
    section: str
    citations: tuple[str, ...]
    thresholds: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgePack:
    id: str
    version: str
    status: str
    title: str
    changelog: tuple[Mapping[str, str], ...]
    citations: Mapping[str, str]
    thresholds: Mapping[str, Threshold]
    settings: Mapping[str, SettingSpec]
    rules: Mapping[str, RuleMeta]
    texts: Mapping[str, PackText] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def label(self) -> str:
        return f"{self.id} {self.version}"

    def threshold(self, name: str) -> Threshold:
        try:
            return self.thresholds[name]
        except KeyError:
            msg = f"knowledge pack {self.label} has no threshold {name!r}"
            raise KeyError(msg) from None

    def rule(self, rule_id: str) -> RuleMeta:
        try:
            return self.rules[rule_id]
        except KeyError:
            msg = f"knowledge pack {self.label} has no rule {rule_id!r}"
            raise KeyError(msg) from None

    def drug_name(self, code: str) -> str:
        """The name a clinician reads for a drug code, inside a sentence (the labels table)."""
        return drug_name(code)

    def text(self, key: str) -> PackText:
        try:
            return self.texts[key]
        except KeyError:
            msg = f"knowledge pack {self.label} has no text {key!r}"
            raise KeyError(msg) from None


def load_pack(path: Path | None = None) -> KnowledgePack:
    """Load and lint a pack: the embedded ``anti-mi2-dm`` pack by default, or a TOML file."""
    if path is None:
        text = (
            resources.files("myositis_cds.knowledge")
            .joinpath("packs", f"{DEFAULT_PACK}.toml")
            .read_text(encoding="utf-8")
        )
        source = f"embedded pack {DEFAULT_PACK}"
    else:
        text = path.read_text(encoding="utf-8")
        source = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgePackError([f"not valid TOML: {exc}"], pack=source) from None
    return parse_pack(document, source=source)


def parse_pack(document: Mapping[str, object], *, source: str = "knowledge pack") -> KnowledgePack:
    """Build a pack from its parsed TOML document, after the linter has found no problem."""
    problems = lint_pack_document(document)
    if problems:
        raise KnowledgePackError(problems, pack=source)
    meta = _table(document["pack"])
    thresholds = {
        name: Threshold(
            name=name,
            value=_threshold_value(spec["value"]),
            unit=str(spec["unit"]),
            source=str(spec["source"]),
            provenance=str(spec["provenance"]),
        )
        for name, spec in ((n, _table(s)) for n, s in _table(document["thresholds"]).items())
    }
    settings = {
        name: SettingSpec(
            name=name,
            default=_setting_value(spec["default"]),
            kind=str(spec["kind"]),
            unit=str(spec["unit"]) if "unit" in spec else None,
            source=str(spec["source"]),
            provenance=str(spec["provenance"]),
            description=str(spec["description"]),
            choices=tuple(str(c) for c in _list(spec.get("choices", []))),
            minimum=float(_number(spec["minimum"])) if "minimum" in spec else None,
        )
        for name, spec in ((n, _table(s)) for n, s in _table(document.get("settings", {})).items())
    }
    rules = {}
    for raw in _list(document["rules"]):
        rule = _table(raw)
        rules[str(rule["id"])] = RuleMeta(
            id=str(rule["id"]),
            title=str(rule["title"]),
            section=str(rule.get("section", "")),
            citations=tuple(str(c) for c in _list(rule["citations"])),
            thresholds=tuple(str(t) for t in _list(rule.get("thresholds", []))),
            settings=tuple(str(s) for s in _list(rule.get("settings", []))),
            requires=tuple(str(r) for r in _list(rule.get("requires", []))),
        )
    return KnowledgePack(
        id=str(meta["id"]),
        version=str(meta["version"]),
        status=str(meta["status"]),
        title=str(meta["title"]),
        changelog=tuple(
            MappingProxyType({k: str(v) for k, v in _table(entry).items()})
            for entry in _list(document.get("changelog", []))
        ),
        citations=MappingProxyType({k: str(v) for k, v in _table(document["citations"]).items()}),
        thresholds=MappingProxyType(thresholds),
        settings=MappingProxyType(settings),
        rules=MappingProxyType(rules),
        texts=MappingProxyType({
            key: PackText(key=key, text=str(spec["text"]),
                          citations=tuple(str(c) for c in _list(spec.get("citations", []))))
            for key, spec in ((k, _table(v)) for k, v in _table(document.get("texts", {})).items())
        }),
    )


def _table(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        msg = f"expected a TOML table, got {value!r}"
        raise TypeError(msg)
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        msg = f"expected a TOML array, got {value!r}"
        raise TypeError(msg)
    return value


def _number(value: object) -> Number:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"expected a number, got {value!r}"
        raise TypeError(msg)
    return value


def _threshold_value(value: object) -> ThresholdValue:
    if isinstance(value, list):
        return tuple(_number(v) for v in value)
    return _number(value)


def _range(value: list[object]) -> Range:
    low, high = (float(_number(v)) for v in value)
    return (low, high)


def _setting_value(value: object) -> SettingValue:
    if isinstance(value, list):
        return _range(value)
    if isinstance(value, Mapping):
        return MappingProxyType({
            str(k): _range(v) if isinstance(v, list) else float(_number(v)) for k, v in value.items()})
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        msg = f"expected a number, a string, a range or a table, got {value!r}"
        raise TypeError(msg)
    return value
