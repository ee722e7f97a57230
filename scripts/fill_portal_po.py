"""Fill the portal's French catalogue (guest/locale/fr) from FR below, then compile it with msgfmt.
Run after `passgate manage makemessages -l fr` in src/passgate/guest (CI needs no gettext: the .mo
is committed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "src/passgate/guest/locale/fr/LC_MESSAGES/django.po"

FR = {
    "choose one of the offers": "choisissez une des offres",
    "not an e-mail address": "ce n'est pas une adresse e-mail",
    "choose a date": "choisissez une date",
    "the first day has already passed": "le premier jour est déjà passé",
    "choose between %(min)s and %(max)s days": "choisissez entre %(min)s et %(max)s jours",
    "Too many attempts. Try again in %(n)d minute.": ("Trop de tentatives. Réessayez dans %(n)d minute.",
                                                      "Trop de tentatives. Réessayez dans %(n)d minutes."),
    "Wrong username or password, or this access has ended.":
        "Identifiant ou mot de passe incorrect, ou cet accès a pris fin.",
    "No stay was found for this room and name. Check the spelling, or ask the front desk.":
        "Aucun séjour trouvé pour cette chambre et ce nom. Vérifiez l'orthographe ou adressez-vous à la réception.",
    "Codes by SMS": "Codes par SMS",
    "Codes by SMS are not offered at this location.": "Les codes par SMS ne sont pas proposés ici.",
    "The text message could not be sent. Please try again in a moment.":
        "Le SMS n'a pas pu être envoyé. Réessayez dans un instant.",
    "Choose a way to pay.": "Choisissez un moyen de paiement.",
    "Link expired": "Lien expiré",
    "This link is no longer valid. Use the credentials you received, or ask again.":
        "Ce lien n'est plus valable. Utilisez les identifiants reçus, ou faites une nouvelle demande.",
    "premium-rate numbers cannot receive a code": "les numéros surtaxés ne peuvent pas recevoir de code",
    "shared-cost numbers cannot receive a code": "les numéros à coût partagé ne peuvent pas recevoir de code",
    "toll-free numbers cannot receive a code": "les numéros verts ne peuvent pas recevoir de code",
    "not a valid mobile number": "ce n'est pas un numéro de mobile valable",
    "this is not a mobile number": "ce n'est pas un numéro de mobile",
    "codes are not sent to this country here": "les codes ne sont pas envoyés vers ce pays ici",
    "codes by SMS are not offered at this location": "les codes par SMS ne sont pas proposés ici",
    "WiFi access": "Accès WiFi",
    "Language": "Langue",
    "All the ways to get online": "Toutes les façons de se connecter",
    "Buy access": "Acheter un accès",
    "Nothing is for sale here.": "Rien n'est en vente ici.",
    "Payment is not available here. Please ask the front desk.":
        "Le paiement n'est pas disponible ici. Adressez-vous à la réception.",
    "Offer": "Offre",
    "per day": "par jour",
    "For offers priced per day, choose your first and last day:":
        "Pour les offres à la journée, choisissez votre premier et votre dernier jour :",
    "First day": "Premier jour",
    "Last day": "Dernier jour",
    "E-mail (optional, to receive your access)": "E-mail (facultatif, pour recevoir votre accès)",
    "Pay with %(label)s": "Payer avec %(label)s",
    "Welcome to %(name)s's WiFi": "Bienvenue sur le WiFi de %(name)s",
    "I have a username and password": "J'ai un identifiant et un mot de passe",
    "Get a code by SMS": "Recevoir un code par SMS",
    "Hotel guests: log in with your room number": "Clients de l'hôtel : connectez-vous avec votre numéro de chambre",
    "Ask a sponsor for access": "Demander un accès à un parrain",
    "Hotel guests": "Clients de l'hôtel",
    "Room number": "Numéro de chambre",
    "Last name": "Nom de famille",
    "Connect": "Se connecter",
    "Log in": "Connexion",
    "Username": "Identifiant",
    "Password": "Mot de passe",
    "Mobile number": "Numéro de mobile",
    "With the country code, e.g. +33 6 12 34 56 78. We send your username and password to it.":
        "Avec l'indicatif du pays, par ex. +33 6 12 34 56 78. Nous y envoyons votre identifiant et votre mot de passe.",
    "Send me a code": "M'envoyer un code",
    "Code sent": "Code envoyé",
    "We sent your username and password to %(number)s. Type them below.":
        "Nous avons envoyé votre identifiant et votre mot de passe au %(number)s. Saisissez-les ci-dessous.",
    "Your WiFi access": "Votre accès WiFi",
    "Network": "Réseau",
    "Valid": "Validité",
    "Keep these: you need them to connect another device.":
        "Conservez-les : ils servent à connecter un autre appareil.",
    "Connecting you…": "Connexion en cours…",
    "Connect now": "Se connecter maintenant",
    "Log in with them": "Se connecter avec",
    "Continue to the page you asked for": "Continuer vers la page demandée",
}


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unquote(lines: list[str]) -> str:
    return "".join(re.fullmatch(r'"(.*)"', line.strip()).group(1) for line in lines).replace('\\"', '"')


def main() -> int:
    blocks = PO.read_text().split("\n\n")
    missing, out = [], []
    for block in blocks:
        lines = block.strip("\n").split("\n")
        if not any(line.startswith("msgid ") for line in lines):
            out.append(block)
            continue
        head = [line for line in lines if line.startswith("#")]
        keys: dict[str, list[str]] = {}
        current = None
        for line in lines:
            if line.startswith("#"):
                continue
            match = re.match(r"(msgid|msgid_plural|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                current = match.group(1)
                keys[current] = [match.group(2)]
            elif current:
                keys[current].append(line)
        msgid = unquote(keys["msgid"])
        if msgid == "":
            out.append(block.replace("#, fuzzy\n", "").replace('"Language: \\n"', '"Language: fr\\n"'))
            continue
        translation = FR.get(msgid)
        if translation is None:
            missing.append(msgid)
            out.append(block)
            continue
        head = [h for h in head if h != "#, fuzzy"]
        text = head + [f"msgid {quoted(msgid)}"]
        if "msgid_plural" in keys:
            text.append(f"msgid_plural {quoted(unquote(keys['msgid_plural']))}")
            text += [f"msgstr[0] {quoted(translation[0])}", f"msgstr[1] {quoted(translation[1])}"]
        else:
            text.append(f"msgstr {quoted(translation)}")
        out.append("\n".join(text))
    PO.write_text("\n\n".join(out).rstrip("\n") + "\n")
    if missing:
        print("untranslated:", *missing, sep="\n  ", file=sys.stderr)
    subprocess.run(["msgfmt", "--check", "-o", str(PO.with_suffix(".mo")), str(PO)], check=True)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
