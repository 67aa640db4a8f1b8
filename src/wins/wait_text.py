"""The estimated wait in words: ONE wording for the kiosk screens, the printed slip and the phone.

The API sends it with every waiting ticket (`estimated_wait_text`, in the ticket's language), so the Kivy kiosk,
the web kiosk and the phone show the server's words, and the slip prints the same ones: a customer never reads
"0–6 min" on the phone and "less than 11 min" on the kiosk for the same ticket. Each screen puts its own label in
front ("Estimated wait: …").
"""

from __future__ import annotations

import math

# (nobody to wait for / up to N minutes / from L to H minutes), by language.
_WORDS: dict[str, tuple[str, str, str]] = {
    "en": ("any moment now", "up to {high} min", "{low} to {high} min"),
    "fr": ("d'un instant à l'autre", "jusqu'à {high} min", "{low} à {high} min"),
    "de": ("jeden Moment", "bis zu {high} Min.", "{low} bis {high} Min."),
    "es": ("en cualquier momento", "hasta {high} min", "de {low} a {high} min"),
    "it": ("a momenti", "fino a {high} min", "da {low} a {high} min"),
    "nl": ("elk moment", "tot {high} min", "{low} tot {high} min"),
    "pt": ("a qualquer momento", "até {high} min", "{low} a {high} min"),
    "ar": ("في أي لحظة", "حتى {high} دقيقة", "{low} إلى {high} دقيقة"),
    "ru": ("с минуты на минуту", "до {high} мин", "от {low} до {high} мин"),
}
LANGUAGES = frozenset(_WORDS)


def wait_minutes(low_seconds: float, high_seconds: float) -> tuple[int, int]:
    """The range in whole minutes, rounded outwards (a promise we keep rather than one we break)."""
    low = max(0, math.floor(low_seconds / 60))
    return low, max(low, math.ceil(high_seconds / 60))


def wait_range_text(low_seconds: float, high_seconds: float, language: str | None) -> str:
    """ "5 to 12 min", "up to 6 min" or "any moment now", in `language` ("fr", "fr-CA", "fr_FR"; English
    if unknown)."""
    base = (language or "en").replace("_", "-").split("-")[0].lower()
    now, up_to, between = _WORDS.get(base, _WORDS["en"])
    low, high = wait_minutes(low_seconds, high_seconds)
    if high <= 1:
        return now
    if low <= 0:
        return up_to.format(high=high)
    return between.format(low=low, high=high)
