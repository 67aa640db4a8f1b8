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
        "wait_note": "An estimate from recent service times; it can change.",
        "called_title": "It's your turn",
        "called_text": "Please go to",
        "counter_name": "Counter {name}",
        "serving": "You are being served at {counter}.",
        "announce": "{ahead}. Estimated wait: {wait}.",
        "done": "Thank you for your visit.",
        "no_show": "You were called but did not come. Please ask at the desk.",
        "cancelled": "You have left the queue. Thank you for letting us know.",
        "expired": "This ticket has expired: the day ended before it was served. Please take a new ticket.",
        "leave": "I'm leaving",
        "leave_title": "Leave the queue?",
        "leave_text": "Your ticket {number} will be cancelled and you will lose your place.",
        "leave_no": "No, keep my place",
        "leave_yes": "Yes, leave the queue",
        "leave_failed": "Could not cancel right now. Please try again, or ask at the desk.",
        "sound_on": "Turn on sound alert",
        "sound_ready": "Sound alert on",
        "offline": "Reconnecting…",
        "updated": "Updates by itself — keep this page open.",
        "missing_title": "Ticket not found",
        "missing_text": "This link does not match any ticket. Check the address on your slip, or ask at the desk.",
        "checkin_title": "Tell us when you arrive",
        "checkin_needed": 'Your ticket keeps its place, but it is called only after you tap "I\'m here" in the '
        "waiting room.",
        "checkin_passed": "It is your turn soon, but you have not checked in: we are calling the next person until "
        'you tap "I\'m here". Check in by {time} or your ticket ends.',
        "checkin_code": "Code shown on the waiting-room screen",
        "checkin_button": "I'm here",
        "checkin_done": "You are checked in: your ticket will be called in its turn.",
        "checkin_failed": "Could not check in right now. Please try again, or ask at the desk.",
        "missed_checkin": "Your ticket ended: you did not check in in time when it reached the front. Please ask at "
        "the desk.",
    },
    "fr": {
        "title": "Votre ticket",
        "service": "Service",
        "position": "Position dans la file",
        "ahead_one": "1 personne avant vous",
        "ahead_many": "{n} personnes avant vous",
        "ahead_none": "Vous êtes le prochain",
        "wait": "Attente estimée",
        "wait_note": "Estimation d'après les temps de service récents ; elle peut changer.",
        "called_title": "C'est votre tour",
        "called_text": "Présentez-vous :",
        "counter_name": "Guichet {name}",
        "serving": "Vous êtes servi : {counter}.",
        "announce": "{ahead}. Attente estimée : {wait}.",
        "done": "Merci de votre visite.",
        "no_show": "Vous avez été appelé mais n'êtes pas venu. Adressez-vous à l'accueil.",
        "cancelled": "Vous avez quitté la file. Merci de nous avoir prévenus.",
        "expired": "Ce ticket a expiré : la journée s'est terminée avant votre passage. "
        "Veuillez prendre un nouveau ticket.",
        "leave": "Je pars",
        "leave_title": "Quitter la file ?",
        "leave_text": "Votre ticket {number} sera annulé et vous perdrez votre place.",
        "leave_no": "Non, je garde ma place",
        "leave_yes": "Oui, je quitte la file",
        "leave_failed": "Annulation impossible pour l'instant. Réessayez, ou demandez à l'accueil.",
        "sound_on": "Activer l'alerte sonore",
        "sound_ready": "Alerte sonore activée",
        "offline": "Reconnexion…",
        "updated": "Mise à jour automatique — gardez cette page ouverte.",
        "missing_title": "Ticket introuvable",
        "missing_text": "Ce lien ne correspond à aucun ticket. "
        "Vérifiez l'adresse sur votre ticket ou demandez à l'accueil.",
        "checkin_title": "Signalez votre arrivée",
        "checkin_needed": "Votre ticket garde sa place, mais il n'est appelé qu'après avoir touché « Je suis là » "
        "dans la salle d'attente.",
        "checkin_passed": "C'est bientôt votre tour, mais vous n'avez pas signalé votre arrivée : nous appelons la "
        "personne suivante tant que vous n'avez pas touché « Je suis là ». Signalez-vous avant {time}, sinon votre "
        "ticket prendra fin.",
        "checkin_code": "Code affiché sur l'écran de la salle d'attente",
        "checkin_button": "Je suis là",
        "checkin_done": "Arrivée enregistrée : votre ticket sera appelé à son tour.",
        "checkin_failed": "Impossible de signaler votre arrivée pour l'instant. Réessayez, ou demandez à l'accueil.",
        "missed_checkin": "Votre ticket a pris fin : vous n'avez pas signalé votre arrivée à temps. Adressez-vous à "
        "l'accueil.",
    },
}


def tracking_strings(lang: str) -> dict[str, str]:
    return _STRINGS.get(lang, _STRINGS["en"])


# The display board's words, in each language the announcements speak (display/speech.py LANGUAGES). A board
# shows them in its languages (the device's, else the branch's): the first large, the others beside it.
_BOARD: dict[str, dict[str, str]] = {
    "en": {
        "now_calling": "Now calling",
        "recent_calls": "Recent calls",
        "ticket": "Ticket",
        "counter": "Counter",
        "counter_name": "Counter {name}",
        "waiting": "{n} waiting",
        "open": "Open",
        "closed": "Closed",
        "latest": "Just called",
        "reconnecting": "Reconnecting…",
        "sound_on": "Click to turn on sound",
    },
    "fr": {
        "now_calling": "Appel en cours",
        "recent_calls": "Derniers appels",
        "ticket": "Ticket",
        "counter": "Guichet",
        "counter_name": "Guichet {name}",
        "waiting": "{n} en attente",
        "open": "Ouvert",
        "closed": "Fermé",
        "latest": "Vient d'être appelé",
        "reconnecting": "Reconnexion…",
        "sound_on": "Cliquez pour activer le son",
    },
    "de": {
        "now_calling": "Aufruf",
        "recent_calls": "Letzte Aufrufe",
        "ticket": "Nummer",
        "counter": "Schalter",
        "counter_name": "Schalter {name}",
        "waiting": "{n} wartend",
        "open": "Geöffnet",
        "closed": "Geschlossen",
        "latest": "Gerade aufgerufen",
        "reconnecting": "Verbindung wird wiederhergestellt…",
        "sound_on": "Klicken, um den Ton einzuschalten",
    },
    "es": {
        "now_calling": "Llamando",
        "recent_calls": "Últimas llamadas",
        "ticket": "Turno",
        "counter": "Ventanilla",
        "counter_name": "Ventanilla {name}",
        "waiting": "{n} en espera",
        "open": "Abierta",
        "closed": "Cerrada",
        "latest": "Recién llamado",
        "reconnecting": "Reconectando…",
        "sound_on": "Haga clic para activar el sonido",
    },
    "it": {
        "now_calling": "Chiamata in corso",
        "recent_calls": "Ultime chiamate",
        "ticket": "Numero",
        "counter": "Sportello",
        "counter_name": "Sportello {name}",
        "waiting": "{n} in attesa",
        "open": "Aperto",
        "closed": "Chiuso",
        "latest": "Appena chiamato",
        "reconnecting": "Riconnessione…",
        "sound_on": "Fare clic per attivare l'audio",
    },
    "nl": {
        "now_calling": "Nu aan de beurt",
        "recent_calls": "Laatste oproepen",
        "ticket": "Nummer",
        "counter": "Balie",
        "counter_name": "Balie {name}",
        "waiting": "{n} wachtend",
        "open": "Open",
        "closed": "Gesloten",
        "latest": "Net opgeroepen",
        "reconnecting": "Opnieuw verbinden…",
        "sound_on": "Klik om het geluid aan te zetten",
    },
    "pt": {
        "now_calling": "A chamar",
        "recent_calls": "Últimas chamadas",
        "ticket": "Senha",
        "counter": "Balcão",
        "counter_name": "Balcão {name}",
        "waiting": "{n} em espera",
        "open": "Aberto",
        "closed": "Fechado",
        "latest": "Acabou de ser chamado",
        "reconnecting": "A reconectar…",
        "sound_on": "Clique para ativar o som",
    },
}


def board_strings(languages: list[str]) -> dict[str, dict[str, str]]:
    """The board's words for each of `languages` it knows (English if none), in that order."""
    known = [lang for lang in languages if lang in _BOARD] or ["en"]
    return {lang: _BOARD[lang] for lang in known}
