"""2017 EULAR/ACR classification criteria for idiopathic inflammatory myopathies (IIM).

Clinical-reference §9; citation key EULAR-ACR-2017.

Each item is ``present``, ``absent`` or ``not_assessed`` (an item left out of the input is
``not_assessed``). Points come from one of two columns of §9: *with biopsy* if biopsy data are
used — any biopsy item present or absent — else *without biopsy* (biopsy-only items then score
nothing). The score is the range ``[points of present items, + points of not-assessed items]``,
computed in :class:`decimal.Decimal` so every category edge is exact. Categories by total
(without / with biopsy): ``ruled_out`` < 5.3 / < 6.5; ``possible`` 5.3–<5.5 / 6.5–<6.7;
``probable`` ≥ 5.5 / ≥ 6.7; ``definite`` ≥ 7.5 / ≥ 8.7. A single category is given only when both
ends of the range fall in it; otherwise ``category`` is ``None`` and ``category_range`` gives the
categories of the two ends.

Further rules:

- The two age items are mutually exclusive: both present is a ``ValueError``. When one is present
  the other cannot be, so a not-assessed other age item adds nothing to the upper end; when both
  are not assessed, only the larger of their points is added.
- §9: "Without heliotrope rash, Gottron papules or Gottron sign, classification requires biopsy
  data." When biopsy data are used, or any of the three skin items is present, the rule is met.
  Otherwise no category is given: if all three are absent the status is ``requires_biopsy``; if
  any is not assessed (and none present) the status is ``depends_on_skin_signs`` — conservative:
  classification needs either one of these skin signs found present or biopsy data. The score
  range is reported in both cases; ``category_range`` is given only in the second, as the
  category the patient would have if a skin sign is found present.
- Anti-Mi-2 earns no points in these criteria; every result says so (``anti_mi2_note``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final, Literal

from myositis_cds.domain.values import value_object

__all__ = [
    "AGE_ITEMS",
    "ANTI_MI2_NOTE",
    "BIOPSY_ITEMS",
    "EULAR_ACR_2017_CATEGORIES",
    "EULAR_ACR_2017_CITATIONS",
    "ITEMS",
    "ITEM_IDS",
    "ITEM_STATES",
    "SKIN_ITEMS",
    "THRESHOLDS_WITHOUT_BIOPSY",
    "THRESHOLDS_WITH_BIOPSY",
    "Category",
    "CriterionItem",
    "EularAcr2017Result",
    "ItemScore",
    "ItemState",
    "Status",
    "age_items_for",
    "categorise",
    "eular_acr_2017",
]

ItemState = Literal["present", "absent", "not_assessed"]
Category = Literal["ruled_out", "possible", "probable", "definite"]
Status = Literal["classified", "indeterminate", "requires_biopsy", "depends_on_skin_signs"]
ITEM_STATES: Final[tuple[ItemState, ...]] = ("present", "absent", "not_assessed")
EULAR_ACR_2017_CATEGORIES: Final[tuple[Category, ...]] = ("ruled_out", "possible", "probable", "definite")
EULAR_ACR_2017_CITATIONS: Final = ("EULAR-ACR-2017",)
ANTI_MI2_NOTE: Final = "Anti-Mi-2 earns no points in the EULAR/ACR 2017 criteria."


@value_object
class CriterionItem:
    """One item of §9 with its points without and with biopsy (``None``: biopsy-only item)."""

    id: str
    title: str
    points_without_biopsy: Decimal | None
    points_with_biopsy: Decimal


def _item(item_id: str, title: str, without: str | None, with_biopsy: str) -> CriterionItem:
    return CriterionItem(id=item_id, title=title,
                         points_without_biopsy=None if without is None else Decimal(without),
                         points_with_biopsy=Decimal(with_biopsy))


ITEMS: Final = (
    _item("age_onset_18_to_40", "age at first symptom 18–<40 years", "1.3", "1.5"),
    _item("age_onset_40_or_more", "age at first symptom ≥ 40 years", "2.1", "2.2"),
    _item("proximal_upper_limb_weakness", "objective symmetric proximal upper-limb weakness", "0.7", "0.7"),
    _item("proximal_lower_limb_weakness", "proximal lower-limb weakness", "0.8", "0.5"),
    _item("neck_flexors_weaker_than_extensors", "neck flexors weaker than extensors", "1.9", "1.6"),
    _item("legs_proximal_weaker_than_distal", "legs: proximal weaker than distal", "0.9", "1.2"),
    _item("heliotrope_rash", "heliotrope rash", "3.1", "3.2"),
    _item("gottron_papules", "Gottron papules", "2.1", "2.7"),
    _item("gottron_sign", "Gottron sign", "3.3", "3.7"),
    _item("dysphagia_or_oesophageal_dysmotility", "dysphagia or oesophageal dysmotility", "0.7", "0.6"),
    _item("anti_jo1", "anti-Jo-1 antibody", "3.9", "3.8"),
    _item("enzymes_above_uln", "CK, LDH, AST or ALT above ULN", "1.3", "1.4"),
    _item("endomysial_infiltrate", "biopsy: endomysial infiltrate", None, "1.7"),
    _item("perimysial_or_perivascular_infiltrate", "biopsy: perimysial/perivascular infiltrate", None, "1.2"),
    _item("perifascicular_atrophy", "biopsy: perifascicular atrophy", None, "1.9"),
    _item("rimmed_vacuoles", "biopsy: rimmed vacuoles", None, "3.1"),
)
"""The items of §9 in the order of the reference, with their points."""

ITEM_IDS: Final = tuple(item.id for item in ITEMS)
AGE_ITEMS: Final = ("age_onset_18_to_40", "age_onset_40_or_more")
SKIN_ITEMS: Final = ("heliotrope_rash", "gottron_papules", "gottron_sign")
BIOPSY_ITEMS: Final = tuple(item.id for item in ITEMS if item.points_without_biopsy is None)
THRESHOLDS_WITHOUT_BIOPSY: Final = (Decimal("5.3"), Decimal("5.5"), Decimal("7.5"))
"""Lowest totals of ``possible``, ``probable`` and ``definite`` without biopsy data (§9)."""
THRESHOLDS_WITH_BIOPSY: Final = (Decimal("6.5"), Decimal("6.7"), Decimal("8.7"))
"""Lowest totals of ``possible``, ``probable`` and ``definite`` with biopsy data (§9)."""
_AGE_LOW: Final = 18
_AGE_HIGH: Final = 40
_BY_ID: Final = {item.id: item for item in ITEMS}


@value_object
class ItemScore:
    """One item as scored: its state, its points in the column used and what it contributed."""

    item: str
    title: str
    state: ItemState
    points: Decimal | None
    """Points in the column used; ``None`` for a biopsy-only item scored without biopsy data."""
    counted: Decimal
    """Points added to both ends of the range (the item is present)."""
    possible: Decimal
    """Points added to the upper end only (the item is not assessed)."""
    note: str | None = None


@value_object
class EularAcr2017Result:
    """A classification by the 2017 EULAR/ACR criteria that explains itself.

    ``status``: ``classified`` (``category`` given); ``indeterminate`` (not-assessed items make the
    range span categories; see ``category_range``); ``requires_biopsy`` (no skin sign and no biopsy
    data); ``depends_on_skin_signs`` (no skin sign present, some not assessed, no biopsy data).
    """

    status: Status
    biopsy_used: bool
    score_range: tuple[Decimal, Decimal]
    category: Category | None
    category_range: tuple[Category, Category] | None
    thresholds: tuple[Decimal, Decimal, Decimal]
    items: tuple[ItemScore, ...]
    not_assessed: tuple[str, ...]
    reasons: tuple[str, ...]
    anti_mi2_note: str
    citations: tuple[str, ...]

    @property
    def score(self) -> Decimal | None:
        """The total when it is exact (no not-assessed item can change it), else ``None``."""
        low, high = self.score_range
        return low if low == high else None

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary of the result (points as floats; each is one decimal exactly)."""
        low, high = self.score_range
        return {
            "instrument": "EULAR/ACR 2017",
            "status": self.status,
            "biopsy_used": self.biopsy_used,
            "score_range": [float(low), float(high)],
            "category": self.category,
            "category_range": None if self.category_range is None else list(self.category_range),
            "thresholds": [float(t) for t in self.thresholds],
            "items": {
                row.item: {"state": row.state,
                           "points": None if row.points is None else float(row.points),
                           "counted": float(row.counted), "possible": float(row.possible),
                           "note": row.note}
                for row in self.items
            },
            "not_assessed": list(self.not_assessed),
            "reasons": list(self.reasons),
            "anti_mi2_note": self.anti_mi2_note,
            "citations": list(self.citations),
        }


def age_items_for(age_at_first_symptom: int | None) -> dict[str, ItemState]:
    """The states of the two age items for an age (completed years) at the first symptom.

    ``None`` (unknown) → both ``not_assessed``; under 18 → both ``absent``; 18–<40 →
    ``age_onset_18_to_40`` present; 40 or more → ``age_onset_40_or_more`` present.
    """
    if age_at_first_symptom is None:
        return dict.fromkeys(AGE_ITEMS, "not_assessed")
    if isinstance(age_at_first_symptom, bool) or not isinstance(age_at_first_symptom, int):
        msg = f"age_at_first_symptom must be whole years or None, got {age_at_first_symptom!r}"
        raise ValueError(msg)
    if age_at_first_symptom < 0:
        msg = f"age_at_first_symptom must not be negative, got {age_at_first_symptom!r}"
        raise ValueError(msg)
    young: ItemState = "present" if _AGE_LOW <= age_at_first_symptom < _AGE_HIGH else "absent"
    old: ItemState = "present" if age_at_first_symptom >= _AGE_HIGH else "absent"
    return {"age_onset_18_to_40": young, "age_onset_40_or_more": old}


def categorise(total: Decimal, *, biopsy: bool) -> Category:
    """The category of a total in the column with or without biopsy data (§9)."""
    possible, probable, definite = THRESHOLDS_WITH_BIOPSY if biopsy else THRESHOLDS_WITHOUT_BIOPSY
    if total >= definite:
        return "definite"
    if total >= probable:
        return "probable"
    if total >= possible:
        return "possible"
    return "ruled_out"


def _states(items: Mapping[str, ItemState]) -> dict[str, ItemState]:
    unknown = [name for name in items if name not in _BY_ID]
    if unknown:
        msg = f"unknown EULAR/ACR 2017 item(s) {unknown}; expected ids from {list(ITEM_IDS)}"
        raise ValueError(msg)
    states: dict[str, ItemState] = {}
    for item_id in ITEM_IDS:
        state: object = items.get(item_id, "not_assessed")
        if state not in ITEM_STATES:
            msg = (f"EULAR/ACR 2017 item {item_id!r} has state {state!r}; expected one of "
                   f"{list(ITEM_STATES)}")
            raise ValueError(msg)
        states[item_id] = items.get(item_id, "not_assessed")
    if all(states[a] == "present" for a in AGE_ITEMS):
        msg = (f"EULAR/ACR 2017 items {AGE_ITEMS[0]!r} and {AGE_ITEMS[1]!r} are mutually exclusive "
               "but both are present; mark the one that does not apply as absent")
        raise ValueError(msg)
    return states


def _points(item: CriterionItem, biopsy: bool) -> Decimal | None:
    return item.points_with_biopsy if biopsy else item.points_without_biopsy


def _score_items(states: Mapping[str, ItemState], biopsy: bool) -> tuple[ItemScore, ...]:
    zero = Decimal(0)
    age_present = any(states[a] == "present" for a in AGE_ITEMS)
    both_ages_unknown = all(states[a] == "not_assessed" for a in AGE_ITEMS)
    # Both age items unknown: only the larger can turn out present, so only it widens the range.
    larger_age = max(AGE_ITEMS, key=lambda a: _points(_BY_ID[a], biopsy) or zero)
    rows: list[ItemScore] = []
    for item in ITEMS:
        state = states[item.id]
        points = _points(item, biopsy)
        note = None
        possible = points if state == "not_assessed" and points is not None else zero
        if points is None:
            note = "biopsy-only item: scores nothing without biopsy data"
        elif item.id in AGE_ITEMS and state == "not_assessed":
            if age_present:
                possible, note = zero, "cannot be present: the other age item is present"
            elif both_ages_unknown and item.id != larger_age:
                possible, note = zero, "both age items not assessed: only the larger one widens the range"
        counted = points if state == "present" and points is not None else zero
        rows.append(ItemScore(item=item.id, title=item.title, state=state, points=points,
                              counted=counted, possible=possible, note=note))
    return tuple(rows)


def _label(category: Category) -> str:
    return category.replace("_", " ")


def eular_acr_2017(items: Mapping[str, ItemState]) -> EularAcr2017Result:
    """Score and classify by the 2017 EULAR/ACR criteria.

    ``items`` maps item ids (:data:`ITEM_IDS`) to ``present``, ``absent`` or ``not_assessed``;
    an id left out is ``not_assessed``.

    Raises:
        ValueError: an unknown item id, an unknown state, or both age items present.

    >>> r = eular_acr_2017({"heliotrope_rash": "present", "gottron_papules": "present",
    ...                     "enzymes_above_uln": "present"} | age_items_for(52))
    >>> r.biopsy_used, r.score_range, r.status
    (False, (Decimal('8.6'), Decimal('20.8')), 'classified')
    >>> r.category
    'definite'
    """
    states = _states(items)
    biopsy = any(states[b] != "not_assessed" for b in BIOPSY_ITEMS)
    rows = _score_items(states, biopsy)
    low = sum((row.counted for row in rows), Decimal(0))
    high = low + sum((row.possible for row in rows), Decimal(0))
    low_category, high_category = categorise(low, biopsy=biopsy), categorise(high, biopsy=biopsy)
    thresholds = THRESHOLDS_WITH_BIOPSY if biopsy else THRESHOLDS_WITHOUT_BIOPSY
    not_assessed = tuple(row.item for row in rows
                         if row.state == "not_assessed" and row.points is not None)

    reasons = [
        "scored with biopsy data (with-biopsy column): a biopsy item is present or absent" if biopsy
        else "scored without biopsy data (without-biopsy column): no biopsy item is present or absent",
    ]
    widening = [row.item for row in rows if row.possible]
    if widening:
        reasons.append(f"not assessed: {', '.join(widening)}; the score is the range {low}–{high}")
    skin = [states[s] for s in SKIN_ITEMS]
    category: Category | None = None
    category_range: tuple[Category, Category] | None = (low_category, high_category)
    if biopsy or "present" in skin:
        if low_category == high_category:
            status: Status = "classified"
            category = low_category
            reasons.append(f"score {low} is {_label(category)} (§9)" if low == high else
                           f"the whole range {low}–{high} is {_label(low_category)} (§9)")
        else:
            status = "indeterminate"
            reasons.append(f"the range {low}–{high} spans {_label(low_category)} to "
                           f"{_label(high_category)}: assessing the missing items may settle it")
    elif "not_assessed" in skin:
        status = "depends_on_skin_signs"
        reasons.append(
            "no heliotrope rash, Gottron papules or Gottron sign is present and some are not assessed; "
            "without one of these skin signs classification requires biopsy data (§9). If one is found "
            f"present the category lies within {_label(low_category)}–"
            f"{_label(high_category)}; otherwise biopsy data are needed")
    else:
        status = "requires_biopsy"
        category_range = None
        reasons.append("heliotrope rash, Gottron papules and Gottron sign are all absent: "
                       "classification requires biopsy data (§9)")
    reasons.append(ANTI_MI2_NOTE)
    return EularAcr2017Result(
        status=status, biopsy_used=biopsy, score_range=(low, high), category=category,
        category_range=category_range, thresholds=thresholds, items=rows, not_assessed=not_assessed,
        reasons=tuple(reasons), anti_mi2_note=ANTI_MI2_NOTE, citations=EULAR_ACR_2017_CITATIONS,
    )
