"""The words of the pages that keep a person safe: "Staying safe", the code gate and the
quick exit, in French and English; :data:`EASY` rewrites "Staying safe" in easy-to-read
wording (short sentences, one idea each, everyday words) for a person who asked for it.
Merged into :data:`notifier.web.text.TEXT`."""

from __future__ import annotations

SAFETY: dict[str, dict[str, str]] = {
    "fr": {
        "nav.safety": "Rester en sécurité",
        "safety.title": "Rester en sécurité",
        "safety.intro": (
            "Si quelqu'un d'autre peut lire votre téléphone ou vos e-mails, vous pouvez choisir "
            "ce que nos messages disent, quand ils arrivent et par quel moyen. Vous pouvez "
            "changer ces choix à tout moment."
        ),
        "safety.help": "Besoin d'aide",
        "safety.help.text": (
            "En cas de danger immédiat, appelez le 17. Si vous ne pouvez pas parler, envoyez "
            "un SMS au 114. Pour parler à quelqu'un, le 3919 est gratuit et anonyme, jour et "
            "nuit."
        ),
        "safety.discreet": "Messages discrets",
        "safety.discreet.hint": (
            "Nos messages ne disent pas qui les envoie ni de quoi ils parlent : seulement "
            "qu'un message vous attend, avec un lien. Ces pages vous demanderont un code."
        ),
        "safety.code": "Votre code pour ces pages",
        "safety.code.hint": (
            "Pour activer les messages discrets, choisissez un code de 6 à 8 chiffres : ces "
            "pages vous le demanderont à chaque visite."
        ),
        "safety.again": "Le même code, une deuxième fois",
        "safety.paused": "Mettre en pause tous nos messages",
        "safety.paused.hint": (
            "Plus aucun message, par aucun moyen, jusqu'à ce que vous reveniez ici. Les "
            "messages prévus pendant la pause ne sont pas envoyés."
        ),
        "safety.send_missed": "En reprenant, m'envoyer les messages de la pause",
        "safety.channels": "Moyens sûrs pour vous écrire",
        "safety.channels.hint": "Nous n'utiliserons que ceux qui sont cochés.",
        "safety.hours": "Heures sûres",
        "safety.hours.hint": (
            "Nous n'écrivons qu'entre ces deux heures ; un message prévu en dehors attend. "
            "Laissez vide pour toute heure."
        ),
        "safety.start": "À partir de",
        "safety.end": "Jusqu'à",
        "safety.error": "Les heures ne sont pas valables : par exemple 09:00 et 17:00.",
        "safety.stale": (
            "Vos réglages ont changé depuis l'affichage de cette page : rien n'a été "
            "enregistré. Voici vos réglages actuels ; vérifiez-les, puis enregistrez de nouveau "
            "si besoin."
        ),
        "safety.trace": "Ne pas laisser de trace",
        "safety.trace.text": (
            "Le bouton « Quitter rapidement » ferme ces pages, mais il ne peut pas effacer "
            "l'historique de votre navigateur ni les messages reçus. Après avoir lu un de nos "
            "messages, vous pouvez le supprimer. Vous pouvez aussi effacer l'historique de "
            "votre navigateur (dans son menu : « Historique », puis « Effacer »), ou ouvrir ces "
            "pages en navigation privée."
        ),
        "exit": "Quitter rapidement",
        "exit.hint": "ou appuyez 3 fois sur la touche Maj",
        "gate.title": "Mon espace",
        "gate.welcome": "Bienvenue",
        "gate.intro": "Saisissez votre code pour continuer.",
        "gate.no_code": "Pour continuer, demandez un code à votre interlocuteur habituel.",
        "gate.rules": (
            "Après 5 codes faux de suite, ces pages restent fermées 15 minutes. Après 3 "
            "fermetures, elles restent fermées jusqu'à ce que vous demandiez un nouveau code "
            "à votre interlocuteur habituel."
        ),
        "gate.code": "Code",
        "gate.code.hint": "Le code que vous avez choisi",
        "gate.submit": "Continuer",
        "gate.wrong": (
            "Ce code ne convient pas. Encore {left} essais, puis ces pages restent fermées "
            "15 minutes."
        ),
        "gate.wrong.last": (
            "Ce code ne convient pas. Encore 1 essai, puis ces pages restent fermées 15 minutes."
        ),
        "gate.locked": "Trop d'essais. Réessayez dans 15 minutes.",
        "gate.early": "Patientez {left} seconde avant de réessayer.",
        "gate.shut": (
            "Trop d'essais : ces pages sont fermées. Pour les rouvrir, demandez un nouveau code "
            "à votre interlocuteur habituel."
        ),
        "gate.format": "Le code doit avoir de 6 à 8 chiffres.",
        "gate.mismatch": "Les deux codes sont différents. Recommencez.",
        "gate.guessable": (
            "Ce code se devine trop facilement (un chiffre répété, une suite, une date). "
            "Choisissez-en un autre."
        ),
        "unsubscribe.neutral.title": "Ne plus recevoir ces messages",
        "unsubscribe.neutral.question": "Vous ne recevrez plus ces messages par {channel}.",
        "unsubscribe.neutral.done": (
            "C'est fait : vous ne recevrez plus ces messages par {channel}."
        ),
    },
    "en": {
        "nav.safety": "Staying safe",
        "safety.title": "Staying safe",
        "safety.intro": (
            "If someone else can read your phone or your e-mails, you can choose what our "
            "messages say, when they arrive and how. You can change these choices at any time."
        ),
        "safety.help": "Getting help",
        "safety.help.text": (
            "In immediate danger, call 17. If you cannot speak, send a text message to 114. "
            "To talk to someone, 3919 is free and anonymous, day and night."
        ),
        "safety.discreet": "Discreet messages",
        "safety.discreet.hint": (
            "Our messages do not say who sends them or what they are about: only that a "
            "message is waiting for you, with a link. These pages will ask for a code."
        ),
        "safety.code": "Your code for these pages",
        "safety.code.hint": (
            "To turn discreet messages on, choose a code of 6 to 8 digits: these pages will "
            "ask for it at each visit."
        ),
        "safety.again": "The same code, a second time",
        "safety.paused": "Pause all our messages",
        "safety.paused.hint": (
            "No message at all, by any means, until you come back here. Messages due during "
            "the pause are not sent."
        ),
        "safety.send_missed": "When resuming, send me the messages of the pause",
        "safety.channels": "Safe ways to write to you",
        "safety.channels.hint": "We will only use the ones ticked.",
        "safety.hours": "Safe hours",
        "safety.hours.hint": (
            "We only write between these two times; a message due outside waits. Leave empty "
            "for any time."
        ),
        "safety.start": "From",
        "safety.end": "Until",
        "safety.error": "The times are not valid: for example 09:00 and 17:00.",
        "safety.stale": (
            "Your settings changed since this page was shown: nothing was saved. Here are your "
            "settings as they are now; check them, then save again if needed."
        ),
        "safety.trace": "Leaving no trace",
        "safety.trace.text": (
            "The “Exit this page” button closes these pages, but it cannot clear your "
            "browser's history or the messages you received. After reading one of our "
            "messages, you can delete it. You can also clear your browser's history (in its "
            "menu: “History”, then “Clear”), or open these pages in a private window."
        ),
        "exit": "Exit this page",
        "exit.hint": "or press the Shift key 3 times",
        "gate.title": "My space",
        "gate.welcome": "Welcome",
        "gate.intro": "Enter your code to continue.",
        "gate.no_code": "To continue, ask your usual contact for a code.",
        "gate.rules": (
            "After 5 wrong codes in a row, these pages stay closed for 15 minutes. After 3 "
            "closings, they stay closed until you ask your usual contact for a new code."
        ),
        "gate.code": "Code",
        "gate.code.hint": "The code you chose",
        "gate.submit": "Continue",
        "gate.wrong": (
            "This code is not right. {left} more tries, then these pages stay closed for "
            "15 minutes."
        ),
        "gate.wrong.last": (
            "This code is not right. 1 more try, then these pages stay closed for 15 minutes."
        ),
        "gate.locked": "Too many tries. Try again in 15 minutes.",
        "gate.early": "Wait {left} second before trying again.",
        "gate.shut": (
            "Too many tries: these pages are closed. To open them again, ask your usual "
            "contact for a new code."
        ),
        "gate.format": "The code must have 6 to 8 digits.",
        "gate.mismatch": "The two codes are different. Start again.",
        "gate.guessable": (
            "This code is too easy to guess (one digit repeated, a run, a date). "
            "Choose another one."
        ),
        "unsubscribe.neutral.title": "Stop receiving these messages",
        "unsubscribe.neutral.question": "You will no longer receive these messages by {channel}.",
        "unsubscribe.neutral.done": "Done: you will no longer receive these messages by {channel}.",
    },
}

# "Staying safe" in easy-to-read wording (FALC): the same keys, for a person who asked for it
EASY: dict[str, dict[str, str]] = {
    "fr": {
        "safety.intro": (
            "Quelqu'un peut lire votre téléphone ? Ou vos e-mails ? Ici, vous choisissez "
            "comment nous vous écrivons. Vous pouvez changer d'avis quand vous voulez."
        ),
        "safety.help": "Besoin d'aide ?",
        "safety.help.text": (
            "Vous êtes en danger ? Appelez le 17. Vous ne pouvez pas parler ? Envoyez un SMS "
            "au 114. Vous voulez parler à quelqu'un ? Appelez le 3919. Le 3919 est gratuit. "
            "Il répond le jour et la nuit. Vous n'avez pas besoin de dire votre nom."
        ),
        "safety.discreet.hint": (
            "Nos messages ne disent pas qui nous sommes. Ils disent seulement : vous avez un "
            "message. Pour voir ces pages, il faudra taper un code."
        ),
        "safety.code.hint": (
            "Vous voulez des messages discrets ? Choisissez un code. Le code a 6, 7 ou 8 "
            "chiffres. Ces pages vont vous demander ce code à chaque fois."
        ),
        "safety.paused": "Arrêter tous nos messages pour le moment",
        "safety.paused.hint": (
            "Nous ne vous écrivons plus du tout. Revenez ici pour recommencer. Les messages "
            "de la pause ne seront pas envoyés."
        ),
        "safety.send_missed": "Quand je recommence : m'envoyer les messages de la pause",
        "safety.channels": "Comment vous écrire sans danger",
        "safety.channels.hint": "Cochez seulement les moyens sans danger pour vous.",
        "safety.hours": "Les heures sans danger",
        "safety.hours.hint": (
            "Nous écrivons seulement entre ces 2 heures. Un message prévu à une autre heure "
            "attend. Vous pouvez laisser vide : alors, nous écrivons à toute heure."
        ),
        "safety.error": "Ces heures ne vont pas. Écrivez par exemple 09:00 et 17:00.",
        "safety.stale": (
            "Vos réglages ont changé entre-temps. Nous n'avons rien enregistré. Regardez vos "
            "réglages ci-dessous. Puis enregistrez encore une fois."
        ),
        "safety.trace.text": (
            "Le bouton « Quitter rapidement » ferme ces pages. Mais il n'efface pas tout. "
            "Après avoir lu notre message, vous pouvez l'effacer. Vous pouvez aussi effacer "
            "l'historique du navigateur : ouvrez son menu, puis « Historique », puis "
            "« Effacer »."
        ),
    },
    "en": {
        "safety.intro": (
            "Can someone read your phone? Or your e-mails? Here, you choose how we write to "
            "you. You can change your mind at any time."
        ),
        "safety.help": "Do you need help?",
        "safety.help.text": (
            "Are you in danger? Call 17. You cannot speak? Send a text to 114. Do you want "
            "to talk to someone? Call 3919. 3919 is free. It answers day and night. You do "
            "not have to say your name."
        ),
        "safety.discreet.hint": (
            "Our messages do not say who we are. They only say: you have a message. To see "
            "these pages, you will type a code."
        ),
        "safety.code.hint": (
            "Do you want discreet messages? Choose a code. The code has 6, 7 or 8 digits. "
            "These pages will ask you for this code every time."
        ),
        "safety.paused": "Stop all our messages for now",
        "safety.paused.hint": (
            "We do not write to you at all. Come back here to start again. The messages of "
            "the pause will not be sent."
        ),
        "safety.send_missed": "When I start again: send me the messages of the pause",
        "safety.channels": "How to write to you with no danger",
        "safety.channels.hint": "Tick only the ways with no danger for you.",
        "safety.hours": "The hours with no danger",
        "safety.hours.hint": (
            "We write only between these 2 times. A message planned at another time waits. "
            "You can leave this empty: then we write at any time."
        ),
        "safety.error": "These times do not work. Write for example 09:00 and 17:00.",
        "safety.stale": (
            "Your settings changed in the meantime. We saved nothing. Look at your settings "
            "below. Then save again."
        ),
        "safety.trace.text": (
            "The “Exit this page” button closes these pages. But it does not delete "
            "everything. After reading our message, you can delete it. You can also clear the "
            "browser's history: open its menu, then “History”, then “Clear”."
        ),
    },
}
