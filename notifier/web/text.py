"""The words of the citizen pages, in French first and in English.

One dictionary per language, the same keys in each (a test says so). Needs are described
as what helps the person, never as a diagnosis.
"""

from __future__ import annotations

from notifier.channels.registry import plugins
from notifier.models import Need
from notifier.web.safety_text import SAFETY

LANGUAGES = ("fr", "en")

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "service": "Mes notifications",
        "tagline": "Les messages de la gendarmerie sur vos démarches",
        "skip": "Aller au contenu",
        "nav": "Menu de mes notifications",
        "nav.preferences": "Mes choix",
        "nav.needs": "Ce qui m'aide",
        "nav.device": "Cet appareil",
        "nav.history": "Ce que nous vous avons envoyé",
        "saved": "Vos choix sont enregistrés. Ils s'appliquent dès le prochain message.",
        "save": "Enregistrer",
        "preferences.title": "Mes choix de notifications",
        "preferences.intro": (
            "Ces informations sont facultatives : choisissez par quel moyen les recevoir. "
            "Décochez tout pour ne plus les recevoir."
        ),
        "preferences.none": "Nous n'envoyons pas d'information facultative pour le moment.",
        "preferences.contacts": "Vos coordonnées",
        "preferences.no_contact": "non renseigné",
        "preferences.service": "Messages de service",
        "preferences.service_text": (
            "Les rappels de rendez-vous, les annulations et les documents disponibles sont "
            "toujours envoyés : ils concernent une démarche en cours. Vous ne pouvez pas les "
            "désactiver, mais vous pouvez choisir ce qui vous aide (page « Ce qui m'aide »)."
        ),
        "preferences.neutral": "Informations facultatives {number}",
        "preferences.service_text.discreet": (
            "Certains messages sont toujours envoyés : ils concernent une démarche en cours. "
            "Vous choisissez quand et comment nous vous écrivons (page « Rester en sécurité »)."
        ),
        "needs.title": "Ce qui m'aide",
        "needs.intro": (
            "Dites-nous ce qui vous aide. Nous l'appliquons à tous nos messages, dès le "
            "prochain. Vous pouvez changer d'avis à tout moment."
        ),
        "needs.legend": "Ce qui m'aide",
        "need.written_contact_only": "Être contacté seulement par écrit",
        "need.written_contact_only.hint": (
            "Par exemple si vous êtes sourd ou malentendant : pas d'appel, des SMS et des "
            "e-mails. En cas d'urgence, le 114 par SMS."
        ),
        "need.easy_read": "Des messages faciles à lire et à comprendre",
        "need.easy_read.hint": "Des phrases courtes et des mots simples (FALC).",
        "need.screen_reader": "J'utilise un lecteur d'écran",
        "need.screen_reader.hint": (
            "Les heures sont écrites en toutes lettres, la mise en page est simple."
        ),
        "need.no_smartphone": "Je n'ai pas de smartphone",
        "need.no_smartphone.hint": "Pas de notification sur téléphone ; des SMS courts.",
        "device.title": "Les notifications sur cet appareil",
        "device.intro": (
            "Recevez nos messages sous forme de notification sur cet appareil, en plus des SMS "
            "et des e-mails. Votre navigateur vous demandera votre accord."
        ),
        "device.off": "Nous vous écrivons par SMS ou par e-mail.",
        "device.nojs": (
            "Cette page a besoin de JavaScript pour activer les notifications : c'est le seul "
            "endroit où il est nécessaire."
        ),
        "device.unsupported": "Ce navigateur ne permet pas les notifications.",
        "device.off_needs": (
            "Vous avez indiqué ne pas avoir de smartphone : nous n'envoyons pas de notification."
        ),
        "device.not_configured": (
            "Nous n'envoyons pas de notification sur les appareils pour le moment."
        ),
        "device.shows_site": (
            "Les notifications ne sont pas proposées à cette adresse : elle s'afficherait avec "
            "chacune, même sur l'écran verrouillé."
        ),
        "device.subscribe": "Activer les notifications sur cet appareil",
        "device.unsubscribe": "Désactiver les notifications sur cet appareil",
        "device.subscribed": "Les notifications sont activées. Un message d'essai arrive.",
        "device.unsubscribed": "Les notifications sont désactivées sur cet appareil.",
        "device.denied": "Les notifications sont bloquées dans votre navigateur.",
        "device.failed": "L'activation n'a pas abouti. Réessayez plus tard.",
        "history.title": "Ce que nous vous avons envoyé",
        "history.intro": (
            "Les messages que nous vous avons envoyés ces 30 derniers jours, du plus récent au "
            "plus ancien."
        ),
        "history.none": "Aucun message ces 30 derniers jours.",
        "history.date": "Date",
        "history.channel": "Canal",
        "history.status": "État",
        "history.text": "Message",
        "history.discreet": "Reçu en message discret : « {words} »",
        "history.read": "Lire ce message en entier",
        "history.message": "Un message reçu",
        "history.back": "Retour à la liste",
        "status.sent": "envoyé",
        "status.delivered": "reçu",
        "status.scheduled": "prévu",
        "status.queued": "en cours",
        "status.sending": "en cours",
        "status.temporary-failure": "nouvel essai prévu",
        "status.permanent-failure": "non distribué",
        "status.technical-failure": "non distribué",
        "status.cancelled": "annulé",
        "status.expired": "non envoyé (trop tard)",
        "unsubscribe.title": "Ne plus recevoir ces nouvelles",
        "unsubscribe.question": "Vous ne recevrez plus « {category} » par {channel}.",
        "unsubscribe.confirm": "Confirmer",
        "unsubscribe.done": "C'est fait : vous ne recevrez plus « {category} » par {channel}.",
        "unsubscribe.more": (
            "Pour vos autres choix, ouvrez le lien « Vos notifications » de notre dernier message."
        ),
        "error.title": "Ce lien ne fonctionne pas",
        "error.expired": (
            "Ce lien a expiré. Ouvrez le lien du dernier message que nous vous avons envoyé."
        ),
        "error.invalid": (
            "Ce lien n'est pas valide. Vérifiez qu'il est complet, ou ouvrez le lien du "
            "dernier message que nous vous avons envoyé."
        ),
        "error.unknown": (
            "Nous ne trouvons pas vos informations. Ouvrez le lien d'un message récent."
        ),
        "error.form": "Le formulaire a expiré. Rechargez la page et recommencez.",
        "error.rate": "Trop de demandes. Attendez une minute et réessayez.",
        "footer": "Ces pages ne demandent aucun compte : le lien de votre message suffit.",
        "footer.accessibility": "Accessibilité : non conforme",
        "footer.legal": "Mentions légales",
        "footer.personal_data": "Données personnelles",
        "legal.title": "Mentions légales",
        "legal.unset": (
            "L'exploitant de ce service n'a pas encore publié ses mentions légales sur ce site."
        ),
        "privacy.title": "Données personnelles",
        "privacy.unset": (
            "L'exploitant de ce service n'a pas encore publié sur ce site les informations sur "
            "le traitement de vos données personnelles ni sur vos droits."
        ),
        "privacy.kept": (
            "Ce service garde vos coordonnées et vos choix pour vous écrire, et les messages "
            "qu'il vous envoie pendant {days} jours."
        ),
        "unset.operator": "Pour l'exploitant : indiquez leur adresse dans le réglage {setting}.",
    },
    "en": {
        "service": "My notifications",
        "tagline": "Messages from the Gendarmerie about your procedures",
        "skip": "Skip to content",
        "nav": "My notifications menu",
        "nav.preferences": "My choices",
        "nav.needs": "What helps me",
        "nav.device": "This device",
        "nav.history": "What we sent you",
        "saved": "Your choices are saved. They apply from the next message.",
        "save": "Save",
        "preferences.title": "My notification choices",
        "preferences.intro": (
            "This news is optional: choose how you want to receive it. Untick everything to "
            "stop receiving it."
        ),
        "preferences.none": "We send no optional news at the moment.",
        "preferences.contacts": "Your contact details",
        "preferences.no_contact": "not given",
        "preferences.service": "Service messages",
        "preferences.service_text": (
            "Appointment reminders, cancellations and documents ready are always sent: they "
            "are about a procedure under way. You cannot turn them off, but you can tell us "
            "what helps you (page “What helps me”)."
        ),
        "preferences.neutral": "Optional news {number}",
        "preferences.service_text.discreet": (
            "Some messages are always sent: they are about something under way for you. You "
            "choose when and how we write to you (page “Staying safe”)."
        ),
        "needs.title": "What helps me",
        "needs.intro": (
            "Tell us what helps you. We apply it to all our messages, from the next one. You "
            "can change your mind at any time."
        ),
        "needs.legend": "What helps me",
        "need.written_contact_only": "Being contacted in writing only",
        "need.written_contact_only.hint": (
            "For example if you are deaf or hard of hearing: no calls, text messages and "
            "e-mails. In an emergency, text 114."
        ),
        "need.easy_read": "Messages that are easy to read and understand",
        "need.easy_read.hint": "Short sentences and simple words.",
        "need.screen_reader": "I use a screen reader",
        "need.screen_reader.hint": "Times are written in words and the layout is simple.",
        "need.no_smartphone": "I do not have a smartphone",
        "need.no_smartphone.hint": "No phone notifications; short text messages.",
        "device.title": "Notifications on this device",
        "device.intro": (
            "Get our messages as notifications on this device, as well as text messages and "
            "e-mails. Your browser will ask for your consent."
        ),
        "device.nojs": (
            "This page needs JavaScript to turn notifications on: it is the only place where "
            "it is needed."
        ),
        "device.unsupported": "This browser does not support notifications.",
        "device.off_needs": "You told us you have no smartphone: we send no notifications.",
        "device.not_configured": "We do not send notifications to devices at the moment.",
        "device.off": "We write to you by text message or e-mail.",
        "device.shows_site": (
            "Notifications are not offered at this address: it would show with each of them, "
            "on a locked screen too."
        ),
        "device.subscribe": "Turn on notifications on this device",
        "device.unsubscribe": "Turn off notifications on this device",
        "device.subscribed": "Notifications are on. A test message is on its way.",
        "device.unsubscribed": "Notifications are off on this device.",
        "device.denied": "Notifications are blocked in your browser.",
        "device.failed": "That did not work. Please try again later.",
        "history.title": "What we sent you",
        "history.intro": "The messages we sent you in the last 30 days, newest first.",
        "history.none": "No message in the last 30 days.",
        "history.date": "Date",
        "history.channel": "Channel",
        "history.status": "Status",
        "history.text": "Message",
        "history.discreet": "Received as a discreet message: “{words}”",
        "history.read": "Read this message in full",
        "history.message": "A message you received",
        "history.back": "Back to the list",
        "status.sent": "sent",
        "status.delivered": "received",
        "status.scheduled": "planned",
        "status.queued": "in progress",
        "status.sending": "in progress",
        "status.temporary-failure": "will try again",
        "status.permanent-failure": "not delivered",
        "status.technical-failure": "not delivered",
        "status.cancelled": "cancelled",
        "status.expired": "not sent (too late)",
        "unsubscribe.title": "Stop receiving this news",
        "unsubscribe.question": "You will no longer receive “{category}” by {channel}.",
        "unsubscribe.confirm": "Confirm",
        "unsubscribe.done": "Done: you will no longer receive “{category}” by {channel}.",
        "unsubscribe.more": (
            "For your other choices, open the “Your notifications” link of our latest message."
        ),
        "error.title": "This link does not work",
        "error.expired": (
            "This link has expired. Open the link in the latest message we sent you."
        ),
        "error.invalid": (
            "This link is not valid. Check that it is complete, or open the link in the "
            "latest message we sent you."
        ),
        "error.unknown": "We cannot find your details. Open the link in a recent message.",
        "error.form": "The form has expired. Reload the page and try again.",
        "error.rate": "Too many requests. Wait a minute and try again.",
        "footer": "These pages need no account: the link in your message is enough.",
        "footer.accessibility": "Accessibility: not compliant",
        "footer.legal": "Legal notice",
        "footer.personal_data": "Personal data",
        "legal.title": "Legal notice",
        "legal.unset": "The operator of this service has not published its legal notice here yet.",
        "privacy.title": "Personal data",
        "privacy.unset": (
            "The operator of this service has not published here yet how it processes your "
            "personal data, nor your rights."
        ),
        "privacy.kept": (
            "This service keeps your contact details and choices to write to you, and the "
            "messages it sends you for {days} days."
        ),
        "unset.operator": "For the operator: give its address in the setting {setting}.",
    },
}

for _lang, _words in SAFETY.items():
    TEXT[_lang].update(_words)
NEEDS = (Need.WRITTEN_CONTACT_ONLY, Need.EASY_READ, Need.SCREEN_READER, Need.NO_SMARTPHONE)
CHANNELS = tuple(plugins())
# Each channel names itself (``channel.sms``…) and says what contact it lacks.
for _plugin in plugins().values():
    for _lang, _labels in _plugin.labels.items():
        TEXT[_lang].update({f"{key}.{_plugin.channel}": text for key, text in _labels.items()})


def language(asked: str | None, locale: str | None) -> str:
    """The page's language: the one asked for (``?lang=``), else the recipient's, else French."""
    for candidate in (asked, (locale or "").split("-", 1)[0]):
        if candidate in LANGUAGES:
            return candidate
    return "fr"
