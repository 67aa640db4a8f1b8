"""Slip texts in several languages (a small catalogue: the slip has a dozen strings).

Add a language by adding a dict with the same keys; a missing key falls back to English.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "your_number": "Your number",
        "service": "Service",
        "issued": "Issued",
        "people_ahead": "People ahead of you: {count}",
        "you_are_next": "You are next",
        "wait": "Estimated wait: about {minutes} min",
        "wait_label": "Estimated wait: {wait}",
        "wait_none": "Estimated wait: a few moments",
        "scan": "Scan to follow your turn on your phone",
        "sample": "Test slip",
    },
    "fr": {
        "your_number": "Votre numéro",
        "service": "Service",
        "issued": "Émis le",
        "people_ahead": "Personnes avant vous : {count}",
        "you_are_next": "Vous êtes le prochain",
        "wait": "Attente estimée : environ {minutes} min",
        "wait_label": "Attente estimée : {wait}",
        "wait_none": "Attente estimée : quelques instants",
        "scan": "Scannez pour suivre votre tour sur votre téléphone",
        "sample": "Ticket de test",
    },
    "de": {
        "your_number": "Ihre Nummer",
        "service": "Dienst",
        "issued": "Ausgegeben am",
        "people_ahead": "Personen vor Ihnen: {count}",
        "you_are_next": "Sie sind als Nächstes dran",
        "wait": "Geschätzte Wartezeit: etwa {minutes} Min.",
        "wait_label": "Geschätzte Wartezeit: {wait}",
        "wait_none": "Geschätzte Wartezeit: wenige Augenblicke",
        "scan": "Scannen Sie, um Ihre Wartezeit auf dem Handy zu verfolgen",
        "sample": "Testbon",
    },
    "ar": {
        "your_number": "رقمك",
        "service": "الخدمة",
        "issued": "صدر في",
        "people_ahead": "عدد الأشخاص قبلك: {count}",
        "you_are_next": "أنت التالي",
        "wait": "الانتظار المتوقع: حوالي {minutes} دقيقة",
        "wait_label": "الانتظار المتوقع: {wait}",
        "wait_none": "الانتظار المتوقع: لحظات قليلة",
        "scan": "امسح الرمز لمتابعة دورك على هاتفك",
        "sample": "تذكرة تجريبية",
    },
    "ru": {
        "your_number": "Ваш номер",
        "service": "Услуга",
        "issued": "Выдан",
        "people_ahead": "Перед вами: {count}",
        "you_are_next": "Вы следующий",
        "wait": "Ожидание: около {minutes} мин",
        "wait_label": "Ожидание: {wait}",
        "wait_none": "Ожидание: несколько минут",
        "scan": "Отсканируйте, чтобы следить за очередью",
        "sample": "Тестовый талон",
    },
}


def languages() -> list[str]:
    return sorted(CATALOGUE)


def translate(language: str | None, key: str, **values: object) -> str:
    """The text for `key` in `language` ("fr", "fr-CA" and "fr_FR" all find French), English otherwise."""
    base = (language or DEFAULT_LANGUAGE).replace("_", "-").split("-")[0].lower()
    table = CATALOGUE.get(base, CATALOGUE[DEFAULT_LANGUAGE])
    text = table.get(key) or CATALOGUE[DEFAULT_LANGUAGE][key]
    return text.format(**values) if values else text
