"""Masking of personal data (ID numbers, names, phones, addresses) wherever the hub shows
or logs a value: reports, quarantine rows, log lines. Full values stay in the database,
behind grants."""

from __future__ import annotations

__all__ = ["PERSONAL_COLUMNS", "mask", "mask_id", "mask_name", "mask_phone"]

#: Staging columns that hold personal data, by the masking they get.
PERSONAL_COLUMNS: dict[str, str] = {
    "id_card_no": "id", "id_card_no_cleaned": "id", "name": "name", "resident_name": "name",
    "phone": "phone", "resident_phone": "phone", "address": "text",
}


def mask_id(v: str) -> str:
    """First 6 and last 4 characters kept (the form the property platform itself uses)."""
    v = str(v)
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_name(v: str) -> str:
    v = str(v)
    return v[:1] + "*" * max(1, len(v) - 1) if v else v


def mask_phone(v: str) -> str:
    v = str(v)
    return v[:3] + "*" * max(0, len(v) - 7) + v[-4:] if len(v) > 7 else "*" * len(v)


def mask(column: str, value: object) -> str | None:
    """``value`` as it may be shown: masked when ``column`` is personal, else as text."""
    if value is None:
        return None
    kind = PERSONAL_COLUMNS.get(column)
    if kind == "id":
        return mask_id(str(value))
    if kind == "name":
        return mask_name(str(value))
    if kind == "phone":
        return mask_phone(str(value))
    if kind == "text":
        return str(value)[:2] + "…"
    return str(value)[:200]
