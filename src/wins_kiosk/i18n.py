"""Every word the kiosk shows, per language (the printed slip's words live in wins.printing.i18n).

A plain dict keeps the catalogue readable by translators and checkable by a test (every language has every
key); gettext would add tooling for ~40 strings."""

from __future__ import annotations

from typing import Final

DEFAULT_LANGUAGE: Final = "en"

LANGUAGE_NAMES: Final[dict[str, str]] = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
}

CATALOGUE: Final[dict[str, dict[str, str]]] = {
    "en": {
        "welcome": "Welcome",
        "choose_service": "Please choose a service",
        "now_serving": "Now serving",
        "counter": "Counter {counter}",
        "nobody_called": "—",
        "no_services": "No service is open right now. Please ask at the desk.",
        "big_text": "Bigger text",
        "normal_text": "Normal text",
        "issuing": "Printing your ticket…",
        "your_number": "Your number",
        "people_ahead_0": "You are next",
        "people_ahead_1": "1 person ahead of you",
        "people_ahead_n": "{n} people ahead of you",
        "wait_range": "Estimated wait: {low}–{high} min",
        "wait_short": "Estimated wait: less than {high} min",
        "wait_none": "You will be called shortly",
        "scan_to_follow": "Scan to follow your place on your phone",
        "take_ticket": "Please take your ticket",
        "printer_fault_title": "Your ticket could not be printed",
        "printer_fault_note": "Please note your number or scan the code. We will call {number}.",
        "touch_to_finish": "Touch to finish",
        "unavailable_title": "Temporarily unavailable",
        "unavailable_body": "We cannot issue tickets at the moment. Please ask at the desk.",
        "unavailable_retrying": "Reconnecting automatically…",
        "refused": "This service cannot issue tickets right now. Please ask at the desk.",
        "operator_title": "Operator",
        "operator_enter_pin": "Enter the operator PIN",
        "operator_wrong_pin": "Wrong PIN",
        "operator_cancel": "Cancel",
        "operator_ok": "OK",
        "operator_exit_fullscreen": "Leave full screen",
        "operator_quit": "Quit kiosk",
        "operator_print_test": "Print test slip",
        "operator_printer": "Printer: {state}",
        "operator_spool": "Slips waiting to print: {count}",
        # Printer states, as shown to operators
        "printer_online": "ready",
        "printer_paper_out": "paper out",
        "printer_paper_low": "paper low",
        "printer_offline": "offline",
        "printer_cover_open": "cover open",
        "printer_error": "error",
        "printer_unknown": "unknown",
        "printer_none": "none configured",
    },
    "fr": {
        "welcome": "Bienvenue",
        "choose_service": "Veuillez choisir un service",
        "now_serving": "Appel en cours",
        "counter": "Guichet {counter}",
        "nobody_called": "—",
        "no_services": "Aucun service n’est ouvert pour le moment. Adressez-vous à l’accueil.",
        "big_text": "Texte plus grand",
        "normal_text": "Texte normal",
        "issuing": "Impression de votre ticket…",
        "your_number": "Votre numéro",
        "people_ahead_0": "Vous êtes le prochain",
        "people_ahead_1": "1 personne avant vous",
        "people_ahead_n": "{n} personnes avant vous",
        "wait_range": "Attente estimée : {low} à {high} min",
        "wait_short": "Attente estimée : moins de {high} min",
        "wait_none": "Vous serez appelé sous peu",
        "scan_to_follow": "Scannez pour suivre votre place sur votre téléphone",
        "take_ticket": "Veuillez prendre votre ticket",
        "printer_fault_title": "Votre ticket n’a pas pu être imprimé",
        "printer_fault_note": "Notez votre numéro ou scannez le code. Nous appellerons le {number}.",
        "touch_to_finish": "Touchez pour terminer",
        "unavailable_title": "Service momentanément indisponible",
        "unavailable_body": "Nous ne pouvons pas délivrer de ticket pour le moment. Adressez-vous à l’accueil.",
        "unavailable_retrying": "Reconnexion automatique…",
        "refused": "Ce service ne peut pas délivrer de ticket pour le moment. Adressez-vous à l’accueil.",
        "operator_title": "Opérateur",
        "operator_enter_pin": "Saisissez le code opérateur",
        "operator_wrong_pin": "Code incorrect",
        "operator_cancel": "Annuler",
        "operator_ok": "OK",
        "operator_exit_fullscreen": "Quitter le plein écran",
        "operator_quit": "Fermer la borne",
        "operator_print_test": "Imprimer un ticket d’essai",
        "operator_printer": "Imprimante : {state}",
        "operator_spool": "Tickets en attente d’impression : {count}",
        "printer_online": "prête",
        "printer_paper_out": "plus de papier",
        "printer_paper_low": "papier bientôt épuisé",
        "printer_offline": "hors ligne",
        "printer_cover_open": "capot ouvert",
        "printer_error": "erreur",
        "printer_unknown": "inconnu",
        "printer_none": "aucune configurée",
    },
    "de": {
        "welcome": "Willkommen",
        "choose_service": "Bitte wählen Sie einen Service",
        "now_serving": "Aufgerufen",
        "counter": "Schalter {counter}",
        "nobody_called": "—",
        "no_services": "Zurzeit ist kein Service geöffnet. Bitte fragen Sie am Empfang.",
        "big_text": "Größere Schrift",
        "normal_text": "Normale Schrift",
        "issuing": "Ihr Ticket wird gedruckt…",
        "your_number": "Ihre Nummer",
        "people_ahead_0": "Sie sind als Nächstes dran",
        "people_ahead_1": "1 Person vor Ihnen",
        "people_ahead_n": "{n} Personen vor Ihnen",
        "wait_range": "Geschätzte Wartezeit: {low}–{high} Min.",
        "wait_short": "Geschätzte Wartezeit: unter {high} Min.",
        "wait_none": "Sie werden gleich aufgerufen",
        "scan_to_follow": "Scannen, um Ihren Platz auf dem Handy zu verfolgen",
        "take_ticket": "Bitte nehmen Sie Ihr Ticket",
        "printer_fault_title": "Ihr Ticket konnte nicht gedruckt werden",
        "printer_fault_note": "Bitte merken Sie sich Ihre Nummer oder scannen Sie den Code. Wir rufen {number} auf.",
        "touch_to_finish": "Zum Beenden berühren",
        "unavailable_title": "Vorübergehend nicht verfügbar",
        "unavailable_body": "Wir können gerade keine Tickets ausgeben. Bitte fragen Sie am Empfang.",
        "unavailable_retrying": "Verbindung wird automatisch wiederhergestellt…",
        "refused": "Für diesen Service können gerade keine Tickets ausgegeben werden. Bitte fragen Sie am Empfang.",
        "operator_title": "Betreiber",
        "operator_enter_pin": "Betreiber-PIN eingeben",
        "operator_wrong_pin": "Falsche PIN",
        "operator_cancel": "Abbrechen",
        "operator_ok": "OK",
        "operator_exit_fullscreen": "Vollbild verlassen",
        "operator_quit": "Kiosk beenden",
        "operator_print_test": "Testbeleg drucken",
        "operator_printer": "Drucker: {state}",
        "operator_spool": "Wartende Belege: {count}",
        "printer_online": "bereit",
        "printer_paper_out": "kein Papier",
        "printer_paper_low": "Papier fast leer",
        "printer_offline": "offline",
        "printer_cover_open": "Deckel offen",
        "printer_error": "Fehler",
        "printer_unknown": "unbekannt",
        "printer_none": "keiner eingerichtet",
    },
}


def supported(languages: list[str]) -> list[str]:
    """The languages we have a catalogue for, in the given order (unknown codes are dropped)."""
    return [code for code in languages if code in CATALOGUE] or [DEFAULT_LANGUAGE]


def translate(language: str, key: str, **values: object) -> str:
    """The text for `key` in `language`, falling back to English for a missing language or key."""
    text = CATALOGUE.get(language, {}).get(key) or CATALOGUE[DEFAULT_LANGUAGE][key]
    return text.format(**values) if values else text


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)
