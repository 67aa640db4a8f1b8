"""The words of every customer-facing screen in one place: the phone's join page (/join) and tracking page (/t/…),
and the display board, in the languages the board announces in (display/speech.py LANGUAGES)."""

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
        "sms_title": "Text me when it's nearly my turn",
        "sms_label": "Mobile number",
        "sms_hint": "With the country code, e.g. +44 7700 900123. Used only for this ticket, shown to nobody, "
        "erased when your visit ends.",
        "sms_button": "Text me",
        "sms_on": "We will text the number ending in {digits} when {n} or fewer people are ahead of you, "
        "and when you are called.",
        "sms_stop": "Stop texts and erase my number",
        "push_ask": "Notify me when it is nearly my turn",
        "push_on": "Notifications are on for this ticket.",
        "push_denied": "Notifications are blocked in this browser's settings.",
        "push_unsupported": "This browser cannot show notifications; keep this page open.",
        "push_failed": "Could not switch notifications on; keep this page open.",
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
        "sms_title": "Recevoir un SMS quand mon tour approche",
        "sms_label": "Numéro de mobile",
        "sms_hint": "Avec l'indicatif du pays, par ex. +33 6 12 34 56 78. Utilisé pour ce ticket seulement, montré à "
        "personne, effacé à la fin de votre visite.",
        "sms_button": "M'envoyer un SMS",
        "sms_on": "Nous enverrons un SMS au numéro finissant par {digits} quand {n} personnes ou moins seront avant "
        "vous, et quand vous serez appelé.",
        "sms_stop": "Arrêter les SMS et effacer mon numéro",
        "push_ask": "Me prévenir quand mon tour approche",
        "push_on": "Les notifications sont activées pour ce ticket.",
        "push_denied": "Les notifications sont bloquées dans les réglages du navigateur.",
        "push_unsupported": "Ce navigateur ne peut pas afficher de notifications ; gardez cette page ouverte.",
        "push_failed": "Impossible d'activer les notifications ; gardez cette page ouverte.",
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
    "de": {
        "title": "Ihre Nummer",
        "service": "Dienst",
        "position": "Platz in der Warteschlange",
        "ahead_one": "1 Person vor Ihnen",
        "ahead_many": "{n} Personen vor Ihnen",
        "ahead_none": "Sie sind als Nächstes dran",
        "wait": "Geschätzte Wartezeit",
        "wait_note": "Eine Schätzung aus den letzten Bedienzeiten; sie kann sich ändern.",
        "called_title": "Sie sind an der Reihe",
        "called_text": "Bitte gehen Sie zu",
        "counter_name": "Schalter {name}",
        "serving": "Sie werden an {counter} bedient.",
        "announce": "{ahead}. Geschätzte Wartezeit: {wait}.",
        "done": "Vielen Dank für Ihren Besuch.",
        "no_show": "Sie wurden aufgerufen, sind aber nicht gekommen. Bitte fragen Sie am Empfang.",
        "cancelled": "Sie haben die Warteschlange verlassen. Danke, dass Sie Bescheid gegeben haben.",
        "expired": "Diese Nummer ist abgelaufen: Der Tag endete vor Ihrem Aufruf. Bitte ziehen Sie eine neue Nummer.",
        "leave": "Ich gehe",
        "leave_title": "Warteschlange verlassen?",
        "leave_text": "Ihre Nummer {number} wird storniert und Sie verlieren Ihren Platz.",
        "leave_no": "Nein, Platz behalten",
        "leave_yes": "Ja, verlassen",
        "leave_failed": "Stornieren gerade nicht möglich. Bitte versuchen Sie es erneut oder fragen Sie am Empfang.",
        "sound_on": "Tonsignal einschalten",
        "sound_ready": "Tonsignal an",
        "offline": "Verbindung wird wiederhergestellt…",
        "updated": "Aktualisiert sich selbst — lassen Sie diese Seite offen.",
        "missing_title": "Nummer nicht gefunden",
        "missing_text": "Dieser Link passt zu keiner Nummer. Prüfen Sie die Adresse auf Ihrem Zettel "
        "oder fragen Sie am Empfang.",
        "push_ask": "Benachrichtigen, wenn ich bald dran bin",
        "push_on": "Benachrichtigungen sind für diese Nummer an.",
        "push_denied": "Benachrichtigungen sind in den Einstellungen dieses Browsers blockiert.",
        "push_unsupported": "Dieser Browser kann keine Benachrichtigungen zeigen; lassen Sie diese Seite offen.",
        "push_failed": "Benachrichtigungen ließen sich nicht einschalten; lassen Sie diese Seite offen.",
        "sms_title": "Per SMS benachrichtigen, wenn ich bald dran bin",
        "sms_label": "Handynummer",
        "sms_hint": "Mit Ländervorwahl, z. B. +49 151 23456789. Nur für diese Nummer verwendet, niemandem gezeigt, "
        "gelöscht, wenn Ihr Besuch endet.",
        "sms_button": "SMS senden",
        "sms_on": "Wir schicken eine SMS an die Nummer mit der Endung {digits}, wenn {n} oder weniger Personen vor "
        "Ihnen sind, und wenn Sie aufgerufen werden.",
        "sms_stop": "SMS beenden und meine Nummer löschen",
        "checkin_title": "Sagen Sie uns, wenn Sie da sind",
        "checkin_needed": "Ihre Nummer behält ihren Platz, wird aber erst aufgerufen, wenn Sie im Wartebereich auf "
        "„Ich bin da“ tippen.",
        "checkin_passed": "Sie sind bald dran, haben sich aber noch nicht angemeldet: Wir rufen die nächste Person "
        "auf, bis Sie auf „Ich bin da“ tippen. Melden Sie sich bis {time} an, sonst verfällt Ihre Nummer.",
        "checkin_code": "Code auf dem Bildschirm im Wartebereich",
        "checkin_button": "Ich bin da",
        "checkin_done": "Sie sind angemeldet: Ihre Nummer wird der Reihe nach aufgerufen.",
        "checkin_failed": "Anmelden gerade nicht möglich. Bitte versuchen Sie es erneut oder fragen Sie am Empfang.",
        "missed_checkin": "Ihre Nummer ist verfallen: Sie haben sich nicht rechtzeitig angemeldet, als sie vorne war. "
        "Bitte fragen Sie am Empfang.",
    },
    "es": {
        "title": "Su turno",
        "service": "Servicio",
        "position": "Posición en la cola",
        "ahead_one": "1 persona delante de usted",
        "ahead_many": "{n} personas delante de usted",
        "ahead_none": "Usted es el siguiente",
        "wait": "Espera estimada",
        "wait_note": "Una estimación según los tiempos de atención recientes; puede cambiar.",
        "called_title": "Es su turno",
        "called_text": "Diríjase a",
        "counter_name": "Ventanilla {name}",
        "serving": "Le están atendiendo en {counter}.",
        "announce": "{ahead}. Espera estimada: {wait}.",
        "done": "Gracias por su visita.",
        "no_show": "Le llamaron pero no se presentó. Pregunte en el mostrador.",
        "cancelled": "Ha salido de la cola. Gracias por avisarnos.",
        "expired": "Este turno ha caducado: el día terminó antes de atenderle. Saque un turno nuevo.",
        "leave": "Me voy",
        "leave_title": "¿Salir de la cola?",
        "leave_text": "Su turno {number} se cancelará y perderá su lugar.",
        "leave_no": "No, mantener mi lugar",
        "leave_yes": "Sí, salir de la cola",
        "leave_failed": "No se pudo cancelar ahora. Inténtelo de nuevo o pregunte en el mostrador.",
        "sound_on": "Activar aviso sonoro",
        "sound_ready": "Aviso sonoro activado",
        "offline": "Reconectando…",
        "updated": "Se actualiza solo — mantenga esta página abierta.",
        "missing_title": "Turno no encontrado",
        "missing_text": "Este enlace no corresponde a ningún turno. Revise la dirección de su papel "
        "o pregunte en el mostrador.",
        "push_ask": "Avisarme cuando casi sea mi turno",
        "push_on": "Los avisos están activados para este turno.",
        "push_denied": "Los avisos están bloqueados en los ajustes de este navegador.",
        "push_unsupported": "Este navegador no puede mostrar avisos; mantenga esta página abierta.",
        "push_failed": "No se pudieron activar los avisos; mantenga esta página abierta.",
        "sms_title": "Avisarme por SMS cuando casi sea mi turno",
        "sms_label": "Número de móvil",
        "sms_hint": "Con el prefijo del país, p. ej. +34 612 345 678. Solo para este turno, no se muestra a nadie, "
        "se borra al terminar su visita.",
        "sms_button": "Enviarme un SMS",
        "sms_on": "Enviaremos un SMS al número que termina en {digits} cuando haya {n} personas o menos "
        "delante de usted, y cuando le llamen.",
        "sms_stop": "Dejar de enviar SMS y borrar mi número",
        "checkin_title": "Avísenos cuando llegue",
        "checkin_needed": "Su turno conserva su lugar, pero solo se le llama después de tocar «Estoy aquí» en la sala "
        "de espera.",
        "checkin_passed": "Pronto es su turno, pero no ha confirmado su llegada: llamamos a la persona siguiente "
        "hasta que toque «Estoy aquí». Confirme antes de las {time} o su turno terminará.",
        "checkin_code": "Código que se ve en la pantalla de la sala de espera",
        "checkin_button": "Estoy aquí",
        "checkin_done": "Llegada confirmada: su turno se llamará cuando le toque.",
        "checkin_failed": "No se pudo confirmar su llegada ahora. Inténtelo de nuevo o pregunte en el mostrador.",
        "missed_checkin": "Su turno terminó: no confirmó su llegada a tiempo cuando llegó al principio de la cola. "
        "Pregunte en el mostrador.",
    },
    "it": {
        "title": "Il suo numero",
        "service": "Servizio",
        "position": "Posizione in coda",
        "ahead_one": "1 persona prima di lei",
        "ahead_many": "{n} persone prima di lei",
        "ahead_none": "Tocca a lei tra poco",
        "wait": "Attesa stimata",
        "wait_note": "Una stima dai tempi di servizio recenti; può cambiare.",
        "called_title": "È il suo turno",
        "called_text": "Si rechi a",
        "counter_name": "Sportello {name}",
        "serving": "La stanno servendo a {counter}.",
        "announce": "{ahead}. Attesa stimata: {wait}.",
        "done": "Grazie per la visita.",
        "no_show": "È stato chiamato ma non si è presentato. Chieda allo sportello informazioni.",
        "cancelled": "Ha lasciato la coda. Grazie per averci avvisato.",
        "expired": "Questo numero è scaduto: la giornata è finita prima del suo turno. Prenda un nuovo numero.",
        "leave": "Me ne vado",
        "leave_title": "Lasciare la coda?",
        "leave_text": "Il suo numero {number} sarà annullato e perderà il posto.",
        "leave_no": "No, tengo il posto",
        "leave_yes": "Sì, lascio la coda",
        "leave_failed": "Impossibile annullare ora. Riprovi o chieda allo sportello informazioni.",
        "sound_on": "Attiva avviso sonoro",
        "sound_ready": "Avviso sonoro attivo",
        "offline": "Riconnessione…",
        "updated": "Si aggiorna da sola — tenga aperta questa pagina.",
        "missing_title": "Numero non trovato",
        "missing_text": "Questo link non corrisponde a nessun numero. Controlli l'indirizzo sul biglietto "
        "o chieda allo sportello informazioni.",
        "push_ask": "Avvisami quando tocca quasi a me",
        "push_on": "Le notifiche sono attive per questo numero.",
        "push_denied": "Le notifiche sono bloccate nelle impostazioni di questo browser.",
        "push_unsupported": "Questo browser non può mostrare notifiche; tenga aperta questa pagina.",
        "push_failed": "Impossibile attivare le notifiche; tenga aperta questa pagina.",
        "sms_title": "Avvisami con un SMS quando è quasi il mio turno",
        "sms_label": "Numero di cellulare",
        "sms_hint": "Con il prefisso internazionale, ad es. +39 312 345 6789. Usato solo per questo biglietto, "
        "non mostrato a nessuno, cancellato alla fine della visita.",
        "sms_button": "Mandami un SMS",
        "sms_on": "Manderemo un SMS al numero che finisce con {digits} quando ci saranno {n} persone o meno "
        "prima di lei, e quando sarà chiamato.",
        "sms_stop": "Basta SMS, cancella il mio numero",
        "checkin_title": "Ci dica quando arriva",
        "checkin_needed": "Il suo biglietto mantiene il posto, ma viene chiamato solo dopo che ha toccato «Sono qui» "
        "in sala d'attesa.",
        "checkin_passed": "Tra poco è il suo turno, ma non ha segnalato l'arrivo: chiamiamo la persona successiva "
        "finché non tocca «Sono qui». Lo segnali entro le {time}, altrimenti il biglietto scade.",
        "checkin_code": "Codice mostrato sullo schermo della sala d'attesa",
        "checkin_button": "Sono qui",
        "checkin_done": "Arrivo registrato: il suo biglietto sarà chiamato al suo turno.",
        "checkin_failed": "Impossibile segnalare l'arrivo adesso. Riprovi o chieda allo sportello.",
        "missed_checkin": "Il suo biglietto è scaduto: non ha segnalato l'arrivo in tempo quando era in testa alla "
        "coda. Chieda allo sportello.",
    },
    "nl": {
        "title": "Uw nummer",
        "service": "Dienst",
        "position": "Plaats in de wachtrij",
        "ahead_one": "1 persoon voor u",
        "ahead_many": "{n} personen voor u",
        "ahead_none": "U bent de volgende",
        "wait": "Geschatte wachttijd",
        "wait_note": "Een schatting op basis van recente wachttijden; die kan veranderen.",
        "called_title": "U bent aan de beurt",
        "called_text": "Ga naar",
        "counter_name": "Balie {name}",
        "serving": "U wordt geholpen bij {counter}.",
        "announce": "{ahead}. Geschatte wachttijd: {wait}.",
        "done": "Bedankt voor uw bezoek.",
        "no_show": "U bent opgeroepen maar kwam niet. Vraag het aan de balie.",
        "cancelled": "U hebt de wachtrij verlaten. Bedankt voor het laten weten.",
        "expired": "Dit nummer is verlopen: de dag eindigde voordat u aan de beurt was. Neem een nieuw nummer.",
        "leave": "Ik ga weg",
        "leave_title": "Wachtrij verlaten?",
        "leave_text": "Uw nummer {number} wordt geannuleerd en u verliest uw plaats.",
        "leave_no": "Nee, plaats houden",
        "leave_yes": "Ja, wachtrij verlaten",
        "leave_failed": "Annuleren lukt nu niet. Probeer het opnieuw of vraag het aan de balie.",
        "sound_on": "Geluidssignaal aanzetten",
        "sound_ready": "Geluidssignaal aan",
        "offline": "Opnieuw verbinden…",
        "updated": "Werkt zichzelf bij — houd deze pagina open.",
        "missing_title": "Nummer niet gevonden",
        "missing_text": "Deze link hoort bij geen enkel nummer. Controleer het adres op uw bonnetje "
        "of vraag het aan de balie.",
        "push_ask": "Waarschuw me als ik bijna aan de beurt ben",
        "push_on": "Meldingen staan aan voor dit nummer.",
        "push_denied": "Meldingen zijn geblokkeerd in de instellingen van deze browser.",
        "push_unsupported": "Deze browser kan geen meldingen tonen; houd deze pagina open.",
        "push_failed": "Meldingen konden niet aan; houd deze pagina open.",
        "sms_title": "Sms mij als ik bijna aan de beurt ben",
        "sms_label": "Mobiel nummer",
        "sms_hint": "Met landcode, bijv. +31 6 12345678. Alleen voor dit nummer gebruikt, aan niemand getoond, "
        "gewist als uw bezoek voorbij is.",
        "sms_button": "Sms mij",
        "sms_on": "We sturen een sms naar het nummer eindigend op {digits} als er {n} of minder mensen voor u zijn, "
        "en als u wordt opgeroepen.",
        "sms_stop": "Stop de sms'jes en wis mijn nummer",
        "checkin_title": "Laat ons weten wanneer u er bent",
        "checkin_needed": "Uw nummer houdt zijn plek, maar wordt pas opgeroepen als u in de wachtruimte op „Ik ben "
        "er” tikt.",
        "checkin_passed": "U bent bijna aan de beurt, maar u hebt zich nog niet gemeld: we roepen de volgende op tot "
        "u op „Ik ben er” tikt. Meld u vóór {time}, anders vervalt uw nummer.",
        "checkin_code": "Code op het scherm in de wachtruimte",
        "checkin_button": "Ik ben er",
        "checkin_done": "U bent aangemeld: uw nummer wordt op zijn beurt opgeroepen.",
        "checkin_failed": "Aanmelden lukt nu niet. Probeer het opnieuw of vraag het bij de balie.",
        "missed_checkin": "Uw nummer is vervallen: u hebt zich niet op tijd gemeld toen het vooraan stond. Vraag het "
        "bij de balie.",
    },
    "pt": {
        "title": "A sua senha",
        "service": "Serviço",
        "position": "Posição na fila",
        "ahead_one": "1 pessoa à sua frente",
        "ahead_many": "{n} pessoas à sua frente",
        "ahead_none": "É o próximo",
        "wait": "Espera estimada",
        "wait_note": "Uma estimativa a partir dos tempos de atendimento recentes; pode mudar.",
        "called_title": "É a sua vez",
        "called_text": "Dirija-se a",
        "counter_name": "Balcão {name}",
        "serving": "Está a ser atendido em {counter}.",
        "announce": "{ahead}. Espera estimada: {wait}.",
        "done": "Obrigado pela sua visita.",
        "no_show": "Foi chamado mas não compareceu. Pergunte na receção.",
        "cancelled": "Saiu da fila. Obrigado por nos avisar.",
        "expired": "Esta senha expirou: o dia terminou antes de ser atendido. Tire uma senha nova.",
        "leave": "Vou sair",
        "leave_title": "Sair da fila?",
        "leave_text": "A sua senha {number} será cancelada e perderá o seu lugar.",
        "leave_no": "Não, manter o lugar",
        "leave_yes": "Sim, sair da fila",
        "leave_failed": "Não foi possível cancelar agora. Tente de novo ou pergunte na receção.",
        "sound_on": "Ativar alerta sonoro",
        "sound_ready": "Alerta sonoro ativo",
        "offline": "A reconectar…",
        "updated": "Atualiza-se sozinha — mantenha esta página aberta.",
        "missing_title": "Senha não encontrada",
        "missing_text": "Este link não corresponde a nenhuma senha. Verifique o endereço no seu talão "
        "ou pergunte na receção.",
        "push_ask": "Avisar-me quando estiver quase na minha vez",
        "push_on": "As notificações estão ativas para esta senha.",
        "push_denied": "As notificações estão bloqueadas nas definições deste navegador.",
        "push_unsupported": "Este navegador não mostra notificações; mantenha esta página aberta.",
        "push_failed": "Não foi possível ativar as notificações; mantenha esta página aberta.",
        "sms_title": "Avisar-me por SMS quando for quase a minha vez",
        "sms_label": "Número de telemóvel",
        "sms_hint": "Com o indicativo do país, p. ex. +351 912 345 678. Usado só para esta senha, mostrado a ninguém, "
        "apagado no fim da sua visita.",
        "sms_button": "Enviar-me SMS",
        "sms_on": "Enviaremos um SMS para o número terminado em {digits} quando houver {n} ou menos pessoas "
        "à sua frente, e quando for chamado.",
        "sms_stop": "Parar os SMS e apagar o meu número",
        "checkin_title": "Avise-nos quando chegar",
        "checkin_needed": "A sua senha mantém o lugar, mas só é chamada depois de tocar em «Estou aqui» na sala de "
        "espera.",
        "checkin_passed": "É quase a sua vez, mas ainda não confirmou a chegada: chamamos a pessoa seguinte até tocar "
        "em «Estou aqui». Confirme até às {time} ou a sua senha termina.",
        "checkin_code": "Código mostrado no ecrã da sala de espera",
        "checkin_button": "Estou aqui",
        "checkin_done": "Chegada confirmada: a sua senha será chamada na sua vez.",
        "checkin_failed": "Não foi possível confirmar a chegada agora. Tente de novo ou pergunte no balcão.",
        "missed_checkin": "A sua senha terminou: não confirmou a chegada a tempo quando chegou à frente. Pergunte no "
        "balcão.",
    },
}


def tracking_strings(lang: str) -> dict[str, str]:
    return _STRINGS.get(lang, _STRINGS["en"])


# The phone's join page (/join). {low}–{high} come from wait_text (the one wording of the wait).
_JOIN: dict[str, dict[str, str]] = {
    "en": {
        "own_ticket": "Your ticket",
        "own_here": "You are here: tell us, so your ticket is called when its turn comes.",
        "own_checkin": "I'm here — check in {number}",
        "own_checkin_later": 'When you are in the waiting room, open your ticket and tap "I\'m here".',
        "own_follow": "Follow ticket {number}",
        "title": "Join the queue",
        "pick_branch": "Choose where you are",
        "waiting": "{n} waiting",
        "take": "Take a ticket for {name}",
        "not_offered": "Joining from a phone is not offered here. Please take a ticket at the kiosk.",
        "none_open": "No service is taking tickets from phones right now.",
        "no_branch": "No site offers joining from a phone right now. Please take a ticket at the kiosk.",
        "code": "Code shown on the waiting-room screen",
        "code_help": "Type the code under the QR code on the screen, or scan the QR code.",
        "footnote": "No name or phone number needed. Your ticket opens on the next page; keep it open or bookmark it.",
        "language": "Language",
        "go": "Continue",
        "error_join_key_refused": "This code has expired or is not right. Scan the QR code on the waiting-room screen "
        "again, or type the code shown under it.",
        "error_join_limit_reached": "You have taken several tickets from this device in the last hour. Please wait, "
        "or ask at the desk.",
    },
    "fr": {
        "own_ticket": "Votre ticket",
        "own_here": "Vous êtes là : dites-le-nous, pour que votre ticket soit appelé à son tour.",
        "own_checkin": "Je suis là — enregistrer {number}",
        "own_checkin_later": "Une fois dans la salle d'attente, ouvrez votre ticket et touchez « Je suis là ».",
        "own_follow": "Suivre le ticket {number}",
        "title": "Rejoindre la file",
        "pick_branch": "Choisissez où vous êtes",
        "waiting": "{n} en attente",
        "take": "Prendre un ticket pour {name}",
        "not_offered": "Il n'est pas possible de rejoindre la file depuis un téléphone ici. "
        "Prenez un ticket à la borne.",
        "none_open": "Aucun service ne délivre de tickets par téléphone en ce moment.",
        "no_branch": "Aucun site ne propose de rejoindre la file par téléphone en ce moment. "
        "Prenez un ticket à la borne.",
        "code": "Code affiché sur l'écran de la salle d'attente",
        "code_help": "Saisissez le code sous le QR code de l'écran, ou scannez le QR code.",
        "footnote": "Ni nom ni numéro de téléphone. Votre ticket s'ouvre à la page suivante ; "
        "gardez-la ouverte ou ajoutez-la à vos favoris.",
        "language": "Langue",
        "go": "Continuer",
        "error_join_key_refused": "Ce code a expiré ou n'est pas le bon. Scannez à nouveau le QR code de l'écran de "
        "la salle d'attente, ou saisissez le code affiché dessous.",
        "error_join_limit_reached": "Vous avez pris plusieurs tickets depuis cet appareil dans l'heure. Patientez, ou "
        "adressez-vous à l'accueil.",
    },
    "de": {
        "own_ticket": "Ihre Nummer",
        "own_here": "Sie sind da: Sagen Sie es uns, damit Ihre Nummer aufgerufen wird, wenn sie an der Reihe ist.",
        "own_checkin": "Ich bin da — {number} anmelden",
        "own_checkin_later": "Wenn Sie im Wartebereich sind, öffnen Sie Ihre Nummer und tippen Sie auf „Ich bin da“.",
        "own_follow": "Nummer {number} verfolgen",
        "title": "In die Warteschlange",
        "pick_branch": "Wählen Sie Ihren Standort",
        "waiting": "{n} wartend",
        "take": "Nummer ziehen für {name}",
        "not_offered": "Hier kann man sich nicht per Handy anstellen. Bitte ziehen Sie eine Nummer am Automaten.",
        "none_open": "Gerade vergibt kein Dienst Nummern per Handy.",
        "no_branch": "Gerade bietet kein Standort das Anstellen per Handy an. "
        "Bitte ziehen Sie eine Nummer am Automaten.",
        "code": "Code vom Bildschirm im Wartebereich",
        "code_help": "Geben Sie den Code unter dem QR-Code auf dem Bildschirm ein oder scannen Sie den QR-Code.",
        "footnote": "Kein Name und keine Telefonnummer nötig. Ihre Nummer öffnet sich auf der nächsten Seite; "
        "lassen Sie sie offen oder setzen Sie ein Lesezeichen.",
        "language": "Sprache",
        "go": "Weiter",
        "error_join_key_refused": "Dieser Code ist abgelaufen oder falsch. Scannen Sie den QR-Code auf dem Bildschirm "
        "im Wartebereich erneut oder geben Sie den Code darunter ein.",
        "error_join_limit_reached": "Sie haben in der letzten Stunde schon mehrere Nummern mit diesem Gerät gezogen. "
        "Bitte warten Sie oder fragen Sie am Empfang.",
    },
    "es": {
        "own_ticket": "Su turno",
        "own_here": "Ya está aquí: avísenos para que llamemos a su turno cuando le toque.",
        "own_checkin": "Estoy aquí — confirmar {number}",
        "own_checkin_later": "Cuando esté en la sala de espera, abra su turno y toque «Estoy aquí».",
        "own_follow": "Seguir el turno {number}",
        "title": "Unirse a la cola",
        "pick_branch": "Elija dónde está",
        "waiting": "{n} en espera",
        "take": "Sacar turno para {name}",
        "not_offered": "Aquí no se puede unir a la cola desde el teléfono. Saque un turno en el quiosco.",
        "none_open": "Ahora mismo ningún servicio da turnos por teléfono.",
        "no_branch": "Ahora mismo ningún sitio permite unirse a la cola por teléfono. Saque un turno en el quiosco.",
        "code": "Código que aparece en la pantalla de la sala de espera",
        "code_help": "Escriba el código que hay bajo el código QR de la pantalla, o escanee el código QR.",
        "footnote": "No hace falta nombre ni teléfono. Su turno se abre en la página siguiente; "
        "manténgala abierta o guárdela en favoritos.",
        "language": "Idioma",
        "go": "Continuar",
        "error_join_key_refused": "Este código ha caducado o no es correcto. Vuelva a escanear el código QR de la "
        "pantalla de la sala de espera, o escriba el código que aparece debajo.",
        "error_join_limit_reached": "Ha sacado varios turnos desde este dispositivo en la última hora. Espere, o "
        "pregunte en el mostrador.",
    },
    "it": {
        "own_ticket": "Il suo biglietto",
        "own_here": "È arrivato: ce lo dica, così il suo biglietto sarà chiamato al suo turno.",
        "own_checkin": "Sono qui — registra {number}",
        "own_checkin_later": "Quando è in sala d'attesa, apra il suo biglietto e tocchi «Sono qui».",
        "own_follow": "Segui il biglietto {number}",
        "title": "Mettersi in coda",
        "pick_branch": "Scelga dove si trova",
        "waiting": "{n} in attesa",
        "take": "Prendi un numero per {name}",
        "not_offered": "Qui non ci si può mettere in coda dal telefono. Prenda un numero al totem.",
        "none_open": "Al momento nessun servizio dà numeri dal telefono.",
        "no_branch": "Al momento nessuna sede permette di mettersi in coda dal telefono. Prenda un numero al totem.",
        "code": "Codice mostrato sullo schermo della sala d'attesa",
        "code_help": "Digiti il codice sotto il QR code sullo schermo, oppure scansioni il QR code.",
        "footnote": "Non servono nome né numero di telefono. Il suo numero si apre nella pagina seguente; "
        "la tenga aperta o la salvi nei preferiti.",
        "language": "Lingua",
        "go": "Continua",
        "error_join_key_refused": "Questo codice è scaduto o non è corretto. Scansioni di nuovo il QR code sullo "
        "schermo della sala d'attesa, o digiti il codice mostrato sotto.",
        "error_join_limit_reached": "Ha preso diversi numeri da questo dispositivo nell'ultima ora. Attenda, o chieda "
        "allo sportello informazioni.",
    },
    "nl": {
        "own_ticket": "Uw nummer",
        "own_here": "U bent er: laat het ons weten, dan wordt uw nummer op zijn beurt opgeroepen.",
        "own_checkin": "Ik ben er — meld {number} aan",
        "own_checkin_later": "Open uw nummer zodra u in de wachtruimte bent en tik op „Ik ben er”.",
        "own_follow": "Nummer {number} volgen",
        "title": "Aansluiten in de wachtrij",
        "pick_branch": "Kies waar u bent",
        "waiting": "{n} wachtend",
        "take": "Neem een nummer voor {name}",
        "not_offered": "Hier kunt u niet met uw telefoon aansluiten. Neem een nummer bij de zuil.",
        "none_open": "Er geeft nu geen dienst nummers via de telefoon.",
        "no_branch": "Nu biedt geen vestiging aansluiten via de telefoon. Neem een nummer bij de zuil.",
        "code": "Code op het scherm in de wachtruimte",
        "code_help": "Typ de code onder de QR-code op het scherm, of scan de QR-code.",
        "footnote": "Geen naam of telefoonnummer nodig. Uw nummer opent op de volgende pagina; "
        "houd die open of zet er een bladwijzer op.",
        "language": "Taal",
        "go": "Verder",
        "error_join_key_refused": "Deze code is verlopen of klopt niet. Scan de QR-code op het scherm in de "
        "wachtruimte opnieuw, of typ de code eronder.",
        "error_join_limit_reached": "U hebt het afgelopen uur al meerdere nummers met dit toestel genomen. Wacht "
        "even, of vraag het aan de balie.",
    },
    "pt": {
        "own_ticket": "A sua senha",
        "own_here": "Já está cá: avise-nos, para a sua senha ser chamada na sua vez.",
        "own_checkin": "Estou aqui — confirmar {number}",
        "own_checkin_later": "Quando estiver na sala de espera, abra a sua senha e toque em «Estou aqui».",
        "own_follow": "Seguir a senha {number}",
        "title": "Entrar na fila",
        "pick_branch": "Escolha onde está",
        "waiting": "{n} em espera",
        "take": "Tirar senha para {name}",
        "not_offered": "Aqui não é possível entrar na fila pelo telemóvel. Tire uma senha no quiosque.",
        "none_open": "Neste momento nenhum serviço dá senhas pelo telemóvel.",
        "no_branch": "Neste momento nenhum local permite entrar na fila pelo telemóvel. Tire uma senha no quiosque.",
        "code": "Código mostrado no ecrã da sala de espera",
        "code_help": "Escreva o código por baixo do código QR no ecrã, ou leia o código QR.",
        "footnote": "Não precisa de nome nem número de telefone. A sua senha abre na página seguinte; "
        "mantenha-a aberta ou guarde-a nos favoritos.",
        "language": "Idioma",
        "go": "Continuar",
        "error_join_key_refused": "Este código expirou ou não está certo. Leia de novo o código QR no ecrã da sala de "
        "espera, ou escreva o código que aparece por baixo.",
        "error_join_limit_reached": "Tirou várias senhas neste aparelho na última hora. Aguarde, ou pergunte na "
        "receção.",
    },
}

# Each language named in itself, for the language switch.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "it": "Italiano", "nl": "Nederlands",
    "pt": "Português",
}  # fmt: skip
PHONE_LANGUAGES = tuple(LANGUAGE_NAMES)


def join_strings(lang: str) -> dict[str, str]:
    return _JOIN.get(lang, _JOIN["en"])


def phone_language(accept_language: str | None, chosen: str | None = None, ticket: str | None = None) -> str:
    """The language of a phone page: the one picked with the page's language switch (`?lang=`), else the
    ticket's (the one it was taken in), else the best of the browser's Accept-Language, else English."""
    for lang in (chosen, ticket):
        base = (lang or "").replace("_", "-").split("-")[0].lower()
        if base in LANGUAGE_NAMES:
            return base
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().split("-")[0].lower()
        if base in LANGUAGE_NAMES and quality > 0:
            ranked.append((-quality, index, base))
    return min(ranked)[2] if ranked else "en"


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
        "scan_to_join": "Scan to join the queue from your phone",
        "join_code": "Code",
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
        "scan_to_join": "Scannez pour rejoindre la file depuis votre téléphone",
        "join_code": "Code",
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
        "scan_to_join": "Scannen, um sich per Handy anzustellen",
        "join_code": "Code",
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
        "scan_to_join": "Escanee para unirse a la cola desde su teléfono",
        "join_code": "Código",
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
        "scan_to_join": "Scansioni per mettersi in coda dal telefono",
        "join_code": "Codice",
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
        "scan_to_join": "Scan om vanaf uw telefoon aan te sluiten",
        "join_code": "Code",
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
        "scan_to_join": "Leia para entrar na fila pelo telemóvel",
        "join_code": "Código",
    },
}


def board_strings(languages: list[str]) -> dict[str, dict[str, str]]:
    """The board's words for each of `languages` it knows (English if none), in that order."""
    known = [lang for lang in languages if lang in _BOARD] or ["en"]
    return {lang: _BOARD[lang] for lang in known}
