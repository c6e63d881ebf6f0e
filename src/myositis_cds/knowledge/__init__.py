"""Knowledge packs: clinical content as versioned data with provenance, and site settings."""

from myositis_cds.knowledge.lint import lint_pack_document
from myositis_cds.knowledge.pack import (
    DEFAULT_PACK,
    KnowledgePack,
    RuleMeta,
    SettingSpec,
    Threshold,
    load_pack,
    parse_pack,
)
from myositis_cds.knowledge.plausibility import Plausibility, default_plausibility
from myositis_cds.knowledge.settings import Settings, load_settings_file, resolve_settings

__all__ = [
    "DEFAULT_PACK",
    "KnowledgePack",
    "Plausibility",
    "RuleMeta",
    "SettingSpec",
    "Settings",
    "Threshold",
    "default_plausibility",
    "lint_pack_document",
    "load_pack",
    "load_settings_file",
    "parse_pack",
    "resolve_settings",
]
