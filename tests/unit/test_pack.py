"""The knowledge pack: the embedded pack is sound and traceable, a broken pack is refused with the
offending item named, and site settings are validated against the pack."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest

import myositis_cds.engine  # noqa: F401 - importing the engine registers every rule implementation
from myositis_cds.domain.vocabulary import DRUGS
from myositis_cds.engine.registry import REGISTRY
from myositis_cds.errors import KnowledgePackError, SettingsError
from myositis_cds.knowledge import (
    DEFAULT_PACK,
    KnowledgePack,
    lint_pack_document,
    load_pack,
    load_settings_file,
    resolve_settings,
)
from myositis_cds.knowledge.labels import load_labels
from myositis_cds.knowledge.lint import PROVENANCE_LABELS

PACKS = Path(__file__).resolve().parent.parent / "fixtures" / "packs"

# clinical-reference.md §0, every citation key.
REFERENCE_CITATION_KEYS = (
    "PF2019",
    "MI2-SUMMARY",
    "EJD2020",
    "JTA-2019",
    "LANCET-NEUROL-2018",
    "ACR-EULAR-2016",
    "ACR-EULAR-2016-JDM",
    "IMACS-DOI-2004",
    "IMACS-CANCER-2023",
    "EULAR-ACR-2017",
    "MOSTELLER-1987",
    "HAQ-DI",
    "MHRA-2013-RTX",
    "ACR-GIOP-2022",
)


@pytest.fixture(scope="module")
def pack() -> KnowledgePack:
    return load_pack()


# ---------------------------------------------------------------------------------------------
# The embedded pack.

def test_embedded_pack_loads(pack: KnowledgePack) -> None:
    assert (pack.id, pack.version, pack.status) == (DEFAULT_PACK, "2026.2", "active")
    assert pack.label == "anti-mi2-dm 2026.2"
    assert pack.title
    assert pack.changelog
    assert pack.changelog[0]["version"] == pack.version


def test_embedded_pack_lints_clean() -> None:
    text = resources.files("myositis_cds.knowledge").joinpath("packs", f"{DEFAULT_PACK}.toml").read_text(
        encoding="utf-8"
    )
    assert lint_pack_document(tomllib.loads(text)) == []


def test_every_reference_citation_key_is_in_the_pack(pack: KnowledgePack) -> None:
    missing = [key for key in REFERENCE_CITATION_KEYS if key not in pack.citations]
    assert missing == []
    for key in REFERENCE_CITATION_KEYS:
        assert pack.citations[key].strip(), key


def test_every_rule_cites_known_keys(pack: KnowledgePack) -> None:
    for rule_id, meta in pack.rules.items():
        assert meta.id == rule_id
        assert meta.title.strip(), rule_id
        assert len(meta.citations) >= 1, rule_id
        unknown = [key for key in meta.citations if key not in pack.citations]
        assert unknown == [], rule_id


def test_every_rule_names_known_thresholds_settings_and_rules(pack: KnowledgePack) -> None:
    for rule_id, meta in pack.rules.items():
        assert set(meta.thresholds) <= set(pack.thresholds), rule_id
        assert set(meta.settings) <= set(pack.settings), rule_id
        assert set(meta.requires) <= set(pack.rules), rule_id
        assert rule_id not in meta.requires


def test_every_threshold_has_unit_source_and_provenance(pack: KnowledgePack) -> None:
    assert pack.thresholds
    for name, threshold in pack.thresholds.items():
        assert threshold.name == name
        assert threshold.unit.strip(), name
        assert threshold.source.strip(), name
        assert threshold.source.startswith("§"), name  # a section of clinical-reference.md
        assert threshold.provenance in PROVENANCE_LABELS, name
        assert threshold.numbers(), name


def test_every_setting_has_source_provenance_and_description(pack: KnowledgePack) -> None:
    assert pack.settings
    for name, setting in pack.settings.items():
        assert setting.name == name
        assert setting.source.strip(), name
        assert setting.provenance in PROVENANCE_LABELS, name
        assert setting.description.strip(), name
        if setting.kind == "choice":
            assert setting.default in setting.choices, name
        elif setting.kind == "range":
            assert isinstance(setting.default, tuple), name
            low, high = setting.default
            assert low <= high, name
        elif setting.kind == "table":
            assert isinstance(setting.default, Mapping), name
            assert setting.default, name
        else:
            assert setting.kind in {"int", "number"}, name
            assert isinstance(setting.default, int | float), name
            if setting.minimum is not None:
                assert setting.default >= setting.minimum, name


def test_interp_values_are_settings(pack: KnowledgePack) -> None:
    # Reference preamble: every [INTERP] value must be a named setting that a site can change.
    assert [name for name, t in pack.thresholds.items() if t.provenance == "INTERP"] == []


def test_every_rule_has_an_implementation_and_vice_versa(pack: KnowledgePack) -> None:
    assert sorted(set(pack.rules) - set(REGISTRY)) == []
    assert sorted(set(REGISTRY) - set(pack.rules)) == []


def test_lookups_name_the_pack(pack: KnowledgePack) -> None:
    with pytest.raises(KeyError, match=re.escape("anti-mi2-dm 2026.2 has no threshold 'nope'")):
        pack.threshold("nope")
    with pytest.raises(KeyError, match="has no rule 'NOPE'"):
        pack.rule("NOPE")
    with pytest.raises(TypeError, match="is a list"):
        pack.threshold("tis_band_edges").number()
    assert pack.threshold("juvenile_onset_age").number() == 18


# ---------------------------------------------------------------------------------------------
# Broken packs: each fixture breaks exactly one thing of the sound `valid.toml`.

def test_the_fixture_base_is_sound() -> None:
    loaded = load_pack(PACKS / "valid.toml")
    assert loaded.label == "test-pack 0.1"
    assert set(loaded.rules) == {"RULE-A", "RULE-B"}


@pytest.mark.parametrize(
    ("fixture", "problem"),
    [
        ("rule_without_citations", "rule RULE-B has no citation"),
        ("threshold_without_source", "threshold cutoff has no source"),
        ("threshold_without_unit", "threshold cutoff has no unit"),
        ("setting_default_outside_choices",
         "setting mode default 'sideways' is not one of ['absolute', 'relative']"),
        ("rule_unknown_citation", "rule RULE-A cites unknown key 'NO-SUCH-KEY'"),
        ("unknown_setting", "rule RULE-A reads unknown setting 'no_such_setting'"),
        ("text_unknown_citation", "text greeting cites unknown key 'NO-SUCH-KEY'"),
        ("setting_range_reversed",
         "setting ages default [55, 12] is not a range [low, high] with low <= high"),
        ("setting_table_not_numbers", "setting windows.rituximab default 'long' is not of kind number"),
    ],
)
def test_broken_pack_is_refused(fixture: str, problem: str) -> None:
    path = PACKS / f"{fixture}.toml"
    with pytest.raises(KnowledgePackError) as caught:
        load_pack(path)
    assert caught.value.problems == (problem,)
    message = str(caught.value)
    assert message.startswith(f"{path}: 1 problem(s)")
    assert problem in message


def test_requires_cycle_is_refused() -> None:
    with pytest.raises(KnowledgePackError) as caught:
        load_pack(PACKS / "requires_cycle.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("rule requirements form a cycle: ")
    cycle = problem.removeprefix("rule requirements form a cycle: ").split(" -> ")
    assert set(cycle) == {"RULE-A", "RULE-B"}
    assert cycle[0] == cycle[-1]


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[pack\nid = 1\n", encoding="utf-8")
    with pytest.raises(KnowledgePackError) as caught:
        load_pack(path)
    (problem,) = caught.value.problems
    assert problem.startswith("not valid TOML")


def test_every_problem_is_reported_at_once() -> None:
    document = tomllib.loads((PACKS / "valid.toml").read_text(encoding="utf-8"))
    del document["thresholds"]["cutoff"]["unit"]
    del document["thresholds"]["cutoff"]["source"]
    document["rules"][0]["citations"] = ["NO-SUCH-KEY"]
    document["rules"][1]["requires"] = ["RULE-Z"]
    assert lint_pack_document(document) == [
        "threshold cutoff has no unit",
        "threshold cutoff has no source",
        "rule RULE-A cites unknown key 'NO-SUCH-KEY'",
        "rule RULE-B requires unknown rule 'RULE-Z'",
    ]


def test_requires_not_a_list_is_refused() -> None:
    with pytest.raises(KnowledgePackError, match="RULE-B"):
        load_pack(PACKS / "requires_not_a_list.toml")


def test_setting_minimum_not_a_number_is_refused() -> None:
    with pytest.raises(KnowledgePackError, match="window"):
        load_pack(PACKS / "setting_minimum_not_a_number.toml")


# ---------------------------------------------------------------------------------------------
# Site settings.

def settings_errors(pack: KnowledgePack, overrides: dict[str, object]) -> dict[str, str]:
    with pytest.raises(SettingsError) as caught:
        resolve_settings(pack, overrides)
    return {error.path: error.expected for error in caught.value.errors}


def test_defaults_when_nothing_is_overridden(pack: KnowledgePack) -> None:
    settings = resolve_settings(pack)
    assert settings.overridden == frozenset()
    assert dict(settings.values) == {name: spec.default for name, spec in pack.settings.items()}
    assert settings.integer("screening_window_days") == 90
    assert settings.text("tis_percent_change") == "absolute"
    assert settings.describe("screening_window_days") == "screening_window_days = 90 (default)"


def test_unknown_setting_is_refused(pack: KnowledgePack) -> None:
    errors = settings_errors(pack, {"screening_window": 60})
    assert list(errors) == ["$.screening_window"]
    assert "screening_window_days" in errors["$.screening_window"]  # the known names are listed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("screening_window_days", "60"),   # a string for an int
        ("screening_window_days", True),   # a bool for an int
        ("screening_window_days", False),
        ("screening_window_days", 60.5),   # not a whole number
        ("screening_window_days", None),
        ("lab_visit_window_days", [14]),
    ],
)
def test_wrong_type_is_refused(pack: KnowledgePack, name: str, value: object) -> None:
    errors = settings_errors(pack, {name: value})
    assert list(errors) == [f"$.{name}"]
    assert errors[f"$.{name}"] == "a whole number of days"


@pytest.mark.parametrize("value", ["sideways", "Absolute", 1, True, None])
def test_choice_outside_the_list_is_refused(pack: KnowledgePack, value: object) -> None:
    errors = settings_errors(pack, {"tis_percent_change": value})
    assert errors == {"$.tis_percent_change": "one of ['absolute', 'relative']"}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("inadequate_response_months", 0, "a number ≥ 1 calendar months"),
        ("screening_window_days", -1, "a number ≥ 0 days"),
    ],
)
def test_value_below_minimum_is_refused(pack: KnowledgePack, name: str, value: int, expected: str) -> None:
    assert settings_errors(pack, {name: value}) == {f"$.{name}": expected}


def test_minimum_itself_is_accepted(pack: KnowledgePack) -> None:
    settings = resolve_settings(pack, {"inadequate_response_months": 1, "screening_window_days": 0})
    assert settings.integer("inadequate_response_months") == 1
    assert settings.integer("screening_window_days") == 0


def test_every_bad_setting_is_reported_at_once(pack: KnowledgePack) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve_settings(pack, {"nope": 1, "tis_percent_change": "x", "screening_window_days": "60",
                                "monitoring_stale_months": 6}, source="site.toml")
    paths = [error.path for error in caught.value.errors]
    assert paths == ["$.nope", "$.tis_percent_change", "$.screening_window_days"]
    message = str(caught.value)
    assert message.startswith("site.toml: invalid settings")
    assert "$.tis_percent_change: got 'x'; expected one of ['absolute', 'relative']" in message


def test_valid_override_is_applied_and_listed(pack: KnowledgePack) -> None:
    settings = resolve_settings(pack, {"screening_window_days": 60, "tis_percent_change": "relative"})
    assert settings.get("screening_window_days") == 60
    assert settings.text("tis_percent_change") == "relative"
    assert settings.overridden == frozenset({"screening_window_days", "tis_percent_change"})
    assert settings.get("lab_visit_window_days") == 14  # untouched default
    assert settings.describe("screening_window_days") == "screening_window_days = 60 (site setting)"
    assert settings.describe("lab_visit_window_days") == "lab_visit_window_days = 14 (default)"


def test_overrides_may_be_nested_under_settings(pack: KnowledgePack) -> None:
    settings = resolve_settings(pack, {"settings": {"monitoring_stale_months": 12}})
    assert settings.integer("monitoring_stale_months") == 12
    assert settings.overridden == frozenset({"monitoring_stale_months"})


def test_settings_toml_file(pack: KnowledgePack, tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('screening_window_days = 60\ntis_percent_change = "relative"\n', encoding="utf-8")
    settings = load_settings_file(pack, path)
    assert (settings.get("screening_window_days"), settings.get("tis_percent_change")) == (60, "relative")
    assert settings.overridden == frozenset({"screening_window_days", "tis_percent_change"})


def test_settings_toml_file_with_a_settings_table(pack: KnowledgePack, tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('[settings]\nhiv_screening = "off"\n', encoding="utf-8")
    settings = load_settings_file(pack, path)
    assert settings.text("hiv_screening") == "off"
    assert settings.overridden == frozenset({"hiv_screening"})


def test_settings_json_file(pack: KnowledgePack, tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"lab_visit_window_days": 7, "severity_when_unrecorded": "non_severe"}),
                    encoding="utf-8")
    settings = load_settings_file(pack, path)
    assert settings.integer("lab_visit_window_days") == 7
    assert settings.text("severity_when_unrecorded") == "non_severe"


def test_settings_file_errors_name_the_file_and_path(pack: KnowledgePack, tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps({"lab_visit_window_days": -3}), encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings_file(pack, path)
    assert [e.path for e in caught.value.errors] == ["$.lab_visit_window_days"]
    assert str(caught.value).startswith(f"{path}: invalid settings")


@pytest.mark.parametrize(
    ("name", "text"),
    [("bad.toml", "screening_window_days = \n"), ("bad.json", "{not json"), ("list.json", "[1, 2]")],
)
def test_unreadable_settings_files_are_refused(
    pack: KnowledgePack, tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings_file(pack, path)
    assert [e.path for e in caught.value.errors] == ["$"]


def test_missing_settings_file_is_refused(pack: KnowledgePack, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings_file(pack, tmp_path / "absent.toml")
    (error,) = caught.value.errors
    assert error.path == "$"
    assert "a readable file" in error.expected


def test_every_2026_2_change_has_a_changelog_entry(pack: KnowledgePack) -> None:
    entries = " ".join(e["changes"] for e in pack.changelog if e["version"] == "2026.2")
    for section in ("§12.1", "§12.2", "§12.3", "§12.4", "§12.5", "§13", "§14", "§15"):
        assert section in entries, section
    for setting in ("effect_window_days", "pre_diagnosis_start_days", "new_course_gap_months",
                    "activity_window_days", "activity_pga_cm", "plausibility", "high_dose_gc_mg_per_kg",
                    "taper_due_weeks", "remission_off_therapy_months", "hiv_screening",
                    "bloods_window_days", "childbearing_age", "workup_window_months_before"):
        assert setting in entries, setting
        assert setting in pack.settings, setting


def test_every_text_cites_known_keys_and_every_drug_has_a_name(pack: KnowledgePack) -> None:
    for key, text in pack.texts.items():
        assert text.text.strip(), key
        assert all(c in pack.citations for c in text.citations), key
    assert all(code in load_labels()["drug"] for code in DRUGS)
    assert [pack.drug_name(c) for c in ("methotrexate", "ivig", "trimethoprim_sulfamethoxazole")] == [
        "methotrexate", "IVIG", "co-trimoxazole"]


def test_table_and_range_settings_are_overridden_key_by_key(pack: KnowledgePack) -> None:
    settings = resolve_settings(pack, {"plausibility": {"weight_kg": [0.3, 450]},
                                       "childbearing_age": [12, 50]})
    assert settings.table_range("plausibility", "weight_kg") == (0.3, 450.0)
    assert settings.table_range("plausibility", "height_cm") == (25.0, 250.0)
    assert settings.range("childbearing_age") == (12.0, 50.0)
    assert settings.overridden == frozenset({"plausibility", "childbearing_age"})


@pytest.mark.parametrize(("overrides", "path", "expected"), [
    ({"plausibility": {"weight": [1, 2]}}, "$.plausibility.weight", "a key of plausibility"),
    ({"plausibility": {"weight_kg": [400, 0.3]}}, "$.plausibility.weight_kg", "low <= high"),
    ({"plausibility": {"weight_kg": 5}}, "$.plausibility.weight_kg", "a range [low, high]"),
    ({"plausibility": [1, 2]}, "$.plausibility", "a table with keys among"),
    ({"childbearing_age": "12-55"}, "$.childbearing_age", "a range [low, high]"),
    ({"effect_window_days": {"rituximab": -1}}, "$.effect_window_days.rituximab", "≥ 0"),
    ({"effect_window_days": {"ivig": "35"}}, "$.effect_window_days.ivig", "a number"),
])
def test_bad_table_and_range_settings_name_the_key(pack: KnowledgePack, overrides: dict[str, object],
                                                   path: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve_settings(pack, overrides)
    assert any(e.path == path and expected in e.expected for e in caught.value.errors), \
        caught.value.errors
