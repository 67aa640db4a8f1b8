"""Words on the customer's tracking page, in the languages the kiosk offers (en, fr)."""

from __future__ import annotations

_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your ticket",
        "service": "Service",
        "position": "Position in the queue",
        "ahead_one": "1 person before you",
        "ahead_many": "{n} people before you",
        "ahead_none": "You are next",
        "wait": "Estimated wait",
        "wait_now": "any moment now",
        "minutes": "{low}–{high} min",
        "wait_note": "An estimate from recent service times; it can change.",
        "called_title": "It's your turn!",
        "called_text": "Please go to counter {counter}",
        "serving": "You are being served at counter {counter}.",
        "done": "Thank you for your visit.",
        "no_show": "You were called but did not come. Please ask at the desk.",
        "cancelled": "You have left the queue. Thank you for letting us know.",
        "expired": "This ticket has expired: the day ended before it was served. Please take a new ticket.",
        "leave": "I'm leaving",
        "leave_confirm": "Leave the queue? Your ticket will be cancelled.",
        "leave_failed": "Could not cancel right now; please try again.",
        "sound_on": "Turn on sound alert",
        "sound_ready": "Sound alert on",
        "offline": "Reconnecting…",
        "updated": "Updates by itself — keep this page open.",
        "missing_title": "Ticket not found",
        "missing_text": "This link does not match any ticket. Check the address on your slip, or ask at the desk.",
    },
    "fr": {
        "title": "Votre ticket",
        "service": "Service",
        "position": "Position dans la file",
        "ahead_one": "1 personne avant vous",
        "ahead_many": "{n} personnes avant vous",
        "ahead_none": "Vous êtes le prochain",
        "wait": "Attente estimée",
        "wait_now": "d'un instant à l'autre",
        "minutes": "{low} à {high} min",
        "wait_note": "Estimation d'après les temps de service récents ; elle peut changer.",
        "called_title": "C'est votre tour !",
        "called_text": "Présentez-vous au guichet {counter}",
        "serving": "Vous êtes servi au guichet {counter}.",
        "done": "Merci de votre visite.",
        "no_show": "Vous avez été appelé mais n'êtes pas venu. Adressez-vous à l'accueil.",
        "cancelled": "Vous avez quitté la file. Merci de nous avoir prévenus.",
        "expired": "Ce ticket a expiré : la journée s'est terminée avant votre passage. "
        "Veuillez prendre un nouveau ticket.",
        "leave": "Je pars",
        "leave_confirm": "Quitter la file ? Votre ticket sera annulé.",
        "leave_failed": "Annulation impossible pour l'instant ; réessayez.",
        "sound_on": "Activer l'alerte sonore",
        "sound_ready": "Alerte sonore activée",
        "offline": "Reconnexion…",
        "updated": "Mise à jour automatique — gardez cette page ouverte.",
        "missing_title": "Ticket introuvable",
        "missing_text": "Ce lien ne correspond à aucun ticket. "
        "Vérifiez l'adresse sur votre ticket ou demandez à l'accueil.",
    },
}


def tracking_strings(lang: str) -> dict[str, str]:
    return _STRINGS.get(lang, _STRINGS["en"])
