"""2017 EULAR/ACR classification criteria (clinical-reference §9, key EULAR-ACR-2017).

The point values and cut-offs below are copied by hand from §9, not from the module, so that a
wrong value in the module fails here. Every category edge (5.3, 5.5, 7.5 without biopsy; 6.5, 6.7,
8.7 with biopsy) is reachable by some combination of items, and each is tested at the edge and at
the highest score below it (scores move in steps of 0.1, so that is the edge − 0.1).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from myositis_cds.scores.eular_acr_2017 import (
    AGE_ITEMS,
    ANTI_MI2_NOTE,
    BIOPSY_ITEMS,
    ITEM_IDS,
    SKIN_ITEMS,
    EularAcr2017Result,
    ItemState,
    age_items_for,
    categorise,
    eular_acr_2017,
)

D = Decimal

# §9: item → (points without biopsy, points with biopsy); None = biopsy-only item.
REFERENCE_POINTS: dict[str, tuple[str | None, str]] = {
    "age_onset_18_to_40": ("1.3", "1.5"),
    "age_onset_40_or_more": ("2.1", "2.2"),
    "proximal_upper_limb_weakness": ("0.7", "0.7"),
    "proximal_lower_limb_weakness": ("0.8", "0.5"),
    "neck_flexors_weaker_than_extensors": ("1.9", "1.6"),
    "legs_proximal_weaker_than_distal": ("0.9", "1.2"),
    "heliotrope_rash": ("3.1", "3.2"),
    "gottron_papules": ("2.1", "2.7"),
    "gottron_sign": ("3.3", "3.7"),
    "dysphagia_or_oesophageal_dysmotility": ("0.7", "0.6"),
    "anti_jo1": ("3.9", "3.8"),
    "enzymes_above_uln": ("1.3", "1.4"),
    "endomysial_infiltrate": (None, "1.7"),
    "perimysial_or_perivascular_infiltrate": (None, "1.2"),
    "perifascicular_atrophy": (None, "1.9"),
    "rimmed_vacuoles": (None, "3.1"),
}
CLINICAL_ITEMS = tuple(i for i, (without, _) in REFERENCE_POINTS.items() if without is not None)
AGES_NOT_ASSESSED: dict[str, ItemState] = dict.fromkeys(AGE_ITEMS, "not_assessed")


def without_biopsy(*present: str, **states: ItemState) -> EularAcr2017Result:
    """Every clinical item absent except ``present`` (and ``states``); no biopsy data."""
    items: dict[str, ItemState] = dict.fromkeys(CLINICAL_ITEMS, "absent")
    items |= dict.fromkeys(present, "present")
    return eular_acr_2017(items | states)


def with_biopsy(*present: str, **states: ItemState) -> EularAcr2017Result:
    """Every item absent (biopsy items included) except ``present`` (and ``states``)."""
    items: dict[str, ItemState] = dict.fromkeys(REFERENCE_POINTS, "absent")
    items |= dict.fromkeys(present, "present")
    return eular_acr_2017(items | states)


def test_item_ids_and_groups() -> None:
    assert tuple(REFERENCE_POINTS) == ITEM_IDS
    assert BIOPSY_ITEMS == ("endomysial_infiltrate", "perimysial_or_perivascular_infiltrate",
                            "perifascicular_atrophy", "rimmed_vacuoles")
    assert SKIN_ITEMS == ("heliotrope_rash", "gottron_papules", "gottron_sign")
    assert AGE_ITEMS == ("age_onset_18_to_40", "age_onset_40_or_more")


@pytest.mark.parametrize("item", CLINICAL_ITEMS)
def test_points_without_biopsy(item: str) -> None:
    expected = D(REFERENCE_POINTS[item][0] or "")
    result = without_biopsy(item)
    assert not result.biopsy_used
    assert result.score_range == (expected, expected)
    assert result.score == expected
    row = next(r for r in result.items if r.item == item)
    assert row.state == "present"
    assert row.points == row.counted == expected
    assert row.possible == 0


@pytest.mark.parametrize("item", list(REFERENCE_POINTS))
def test_points_with_biopsy(item: str) -> None:
    expected = D(REFERENCE_POINTS[item][1])
    result = with_biopsy(item)
    assert result.biopsy_used
    assert result.score_range == (expected, expected)
    assert next(r for r in result.items if r.item == item).points == expected


@pytest.mark.parametrize("item", BIOPSY_ITEMS)
def test_biopsy_items_score_nothing_without_biopsy_data(item: str) -> None:
    row = next(r for r in without_biopsy("gottron_sign").items if r.item == item)
    assert row.state == "not_assessed"
    assert row.points is None
    assert row.counted == row.possible == 0
    assert row.note is not None


@pytest.mark.parametrize("state", ["present", "absent"])
def test_one_biopsy_item_present_or_absent_means_biopsy_is_used(state: ItemState) -> None:
    result = eular_acr_2017({"rimmed_vacuoles": state})
    assert result.biopsy_used
    assert result.thresholds == (D("6.5"), D("6.7"), D("8.7"))
    assert eular_acr_2017({}).thresholds == (D("5.3"), D("5.5"), D("7.5"))


# Without biopsy a skin sign must be present for a category; every combination below has one.
EDGES_WITHOUT_BIOPSY = [
    (("heliotrope_rash", "gottron_papules"), "5.2", "ruled_out"),
    (("gottron_sign", "dysphagia_or_oesophageal_dysmotility", "enzymes_above_uln"), "5.3", "possible"),
    (("gottron_papules", "gottron_sign"), "5.4", "possible"),
    (("legs_proximal_weaker_than_distal", "gottron_sign", "enzymes_above_uln"), "5.5", "probable"),
    (("gottron_papules", "gottron_sign", "dysphagia_or_oesophageal_dysmotility", "enzymes_above_uln"),
     "7.4", "probable"),
    (("age_onset_40_or_more", "gottron_papules", "gottron_sign"), "7.5", "definite"),
]
EDGES_WITH_BIOPSY = [
    (("gottron_papules", "gottron_sign"), "6.4", "ruled_out"),
    (("gottron_papules", "anti_jo1"), "6.5", "possible"),
    (("gottron_sign", "endomysial_infiltrate", "perimysial_or_perivascular_infiltrate"), "6.6", "possible"),
    (("endomysial_infiltrate", "perifascicular_atrophy", "rimmed_vacuoles"), "6.7", "probable"),
    (("anti_jo1", "endomysial_infiltrate", "rimmed_vacuoles"), "8.6", "probable"),
    (("gottron_sign", "perifascicular_atrophy", "rimmed_vacuoles"), "8.7", "definite"),
]


@pytest.mark.parametrize(("present", "total", "category"), EDGES_WITHOUT_BIOPSY)
def test_category_edges_without_biopsy(present: tuple[str, ...], total: str, category: str) -> None:
    result = without_biopsy(*present)
    assert result.score_range == (D(total), D(total))
    assert (result.status, result.category) == ("classified", category)
    assert result.category_range == (category, category)
    assert categorise(D(total), biopsy=False) == category


@pytest.mark.parametrize(("present", "total", "category"), EDGES_WITH_BIOPSY)
def test_category_edges_with_biopsy(present: tuple[str, ...], total: str, category: str) -> None:
    result = with_biopsy(*present)
    assert result.score_range == (D(total), D(total))
    assert (result.status, result.category) == ("classified", category)
    assert categorise(D(total), biopsy=True) == category


@pytest.mark.parametrize(("total", "without", "with_"), [
    ("0", "ruled_out", "ruled_out"), ("5.29", "ruled_out", "ruled_out"), ("5.3", "possible", "ruled_out"),
    ("5.5", "probable", "ruled_out"), ("6.49", "probable", "ruled_out"), ("6.5", "probable", "possible"),
    ("6.7", "probable", "probable"), ("7.5", "definite", "probable"), ("8.69", "definite", "probable"),
    ("8.7", "definite", "definite"),
])
def test_categorise(total: str, without: str, with_: str) -> None:
    assert categorise(D(total), biopsy=False) == without
    assert categorise(D(total), biopsy=True) == with_


def test_not_assessed_item_gives_a_range_and_no_category_across_an_edge() -> None:
    # 3.3 + 0.7 present, enzymes (1.3) not assessed: 4.0–5.3 spans ruled out to possible.
    result = without_biopsy("gottron_sign", "dysphagia_or_oesophageal_dysmotility",
                            enzymes_above_uln="not_assessed")
    assert result.score_range == (D("4.0"), D("5.3"))
    assert result.score is None
    assert result.status == "indeterminate"
    assert result.category is None
    assert result.category_range == ("ruled_out", "possible")
    assert result.not_assessed == ("enzymes_above_uln",)
    assert any("range 4.0–5.3" in r for r in result.reasons)


def test_range_inside_one_category_is_classified() -> None:
    result = without_biopsy("gottron_sign", enzymes_above_uln="not_assessed")
    assert result.score_range == (D("3.3"), D("4.6"))
    assert (result.status, result.category) == ("classified", "ruled_out")


def test_not_assessed_biopsy_items_widen_the_range_when_biopsy_is_used() -> None:
    result = eular_acr_2017({**dict.fromkeys(CLINICAL_ITEMS, "absent"), "gottron_sign": "present",
                             "rimmed_vacuoles": "absent"})
    # 3.7 + not assessed 1.7 + 1.2 + 1.9 = 8.5
    assert result.score_range == (D("3.7"), D("8.5"))
    assert result.category_range == ("ruled_out", "probable")


def test_age_items_are_mutually_exclusive() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        eular_acr_2017(dict.fromkeys(AGE_ITEMS, "present"))


def test_both_age_items_not_assessed_widen_by_the_larger_only() -> None:
    result = without_biopsy("gottron_sign", **AGES_NOT_ASSESSED)
    assert result.score_range == (D("3.3"), D("5.4"))  # 3.3 + 2.1, not + 1.3 + 2.1
    result = with_biopsy("gottron_sign", **AGES_NOT_ASSESSED)
    assert result.score_range == (D("3.7"), D("5.9"))  # 3.7 + 2.2


def test_one_age_item_not_assessed_and_the_other_absent_widens_by_its_points() -> None:
    # Found by the property tests: the "larger only" rule applies only when both are not assessed.
    result = without_biopsy("gottron_sign", age_onset_18_to_40="not_assessed")
    assert result.score_range == (D("3.3"), D("4.6"))  # 3.3 + 1.3


def test_other_age_item_adds_nothing_once_one_is_present() -> None:
    result = without_biopsy("gottron_sign", "age_onset_18_to_40", age_onset_40_or_more="not_assessed")
    assert result.score_range == (D("4.6"), D("4.6"))
    row = next(r for r in result.items if r.item == "age_onset_40_or_more")
    assert row.possible == 0
    assert row.note is not None


@pytest.mark.parametrize(("age", "young", "old"), [
    (None, "not_assessed", "not_assessed"), (0, "absent", "absent"), (17, "absent", "absent"),
    (18, "present", "absent"), (39, "present", "absent"), (40, "absent", "present"),
    (85, "absent", "present"),
])
def test_age_items_for(age: int | None, young: str, old: str) -> None:
    assert age_items_for(age) == {"age_onset_18_to_40": young, "age_onset_40_or_more": old}


@pytest.mark.parametrize("age", [-1, 40.5, True])
def test_age_items_for_rejects_invalid_ages(age: object) -> None:
    with pytest.raises(ValueError, match="age_at_first_symptom"):
        age_items_for(age)  # type: ignore[arg-type]


def test_no_skin_sign_and_no_biopsy_requires_biopsy_whatever_the_score() -> None:
    # 2.1 + 1.9 + 0.9 + 3.9 + 1.3 = 10.1 would be "definite", but without a skin sign it needs biopsy data.
    result = without_biopsy("age_onset_40_or_more", "neck_flexors_weaker_than_extensors",
                            "legs_proximal_weaker_than_distal", "anti_jo1", "enzymes_above_uln")
    assert result.score_range == (D("10.1"), D("10.1"))
    assert result.status == "requires_biopsy"
    assert result.category is None
    assert result.category_range is None
    assert any("classification requires biopsy data" in r for r in result.reasons)


def test_no_skin_sign_with_biopsy_data_is_classified() -> None:
    result = with_biopsy("age_onset_40_or_more", "neck_flexors_weaker_than_extensors",
                         "legs_proximal_weaker_than_distal", "anti_jo1", "enzymes_above_uln")
    assert result.score_range == (D("10.2"), D("10.2"))  # 2.2 + 1.6 + 1.2 + 3.8 + 1.4
    assert (result.status, result.category) == ("classified", "definite")


@pytest.mark.parametrize("skin", SKIN_ITEMS)
def test_a_not_assessed_skin_sign_makes_the_rule_depend_on_it(skin: str) -> None:
    not_assessed: dict[str, ItemState] = {skin: "not_assessed"}
    result = without_biopsy("age_onset_40_or_more", "anti_jo1", **not_assessed)
    assert result.status == "depends_on_skin_signs"
    assert result.category is None
    assert result.category_range is not None
    assert any("biopsy data are needed" in r for r in result.reasons)


@pytest.mark.parametrize("skin", SKIN_ITEMS)
def test_any_one_skin_sign_present_meets_the_rule(skin: str) -> None:
    assert without_biopsy(skin, "age_onset_40_or_more", "anti_jo1").status == "classified"


@pytest.mark.parametrize("result", [
    eular_acr_2017({}),
    without_biopsy("heliotrope_rash"),
    without_biopsy(),
    with_biopsy("rimmed_vacuoles"),
    without_biopsy("gottron_sign", enzymes_above_uln="not_assessed", anti_jo1="not_assessed"),
])
def test_anti_mi2_statement_in_every_result(result: EularAcr2017Result) -> None:
    assert ANTI_MI2_NOTE == "Anti-Mi-2 earns no points in the EULAR/ACR 2017 criteria."
    assert result.anti_mi2_note == ANTI_MI2_NOTE
    assert ANTI_MI2_NOTE in result.reasons
    assert result.citations == ("EULAR-ACR-2017",)
    assert result.to_dict()["anti_mi2_note"] == ANTI_MI2_NOTE


def test_omitted_items_are_not_assessed() -> None:
    result = eular_acr_2017({})
    assert all(row.state == "not_assessed" for row in result.items)
    # 2.1 (larger age item) + 0.7 + 0.8 + 1.9 + 0.9 + 3.1 + 2.1 + 3.3 + 0.7 + 3.9 + 1.3
    assert result.score_range == (D(0), D("20.8"))
    assert result.status == "depends_on_skin_signs"


def test_to_dict() -> None:
    data = without_biopsy("gottron_sign", "dysphagia_or_oesophageal_dysmotility",
                          enzymes_above_uln="not_assessed").to_dict()
    assert data["score_range"] == [4.0, 5.3]
    assert data["category"] is None
    assert data["category_range"] == ["ruled_out", "possible"]
    assert data["biopsy_used"] is False


def test_unknown_item_and_state_are_rejected() -> None:
    with pytest.raises(ValueError, match="'anti_mi2'"):
        eular_acr_2017({"anti_mi2": "present"})
    with pytest.raises(ValueError, match=r"'gottron_sign'.*'yes'"):
        eular_acr_2017({"gottron_sign": "yes"})  # type: ignore[dict-item]
