"""French text helpers: slugs, « de »/« à » with elision, place names in templates."""
from __future__ import annotations

import re
import unicodedata

# --- small pure helpers ---------------------------------------------------------------------------


def slug(text_: str) -> str:
    """ASCII, lowercase, hyphen-separated: for e-mail local parts and domains."""
    ascii_text = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


_VOWELS = tuple("AEIOUÉÈÊÂÎÏÔaeiouéèêâîïô")


def _elides(name: str) -> bool:
    # « d'Oujda » but « de Ouagadougou » (a w sound) and « de Yaoundé ».
    return name.startswith(_VOWELS) and not (name[:2].lower() == "ou" and name[2:3].lower() in ("a", "e", "i"))


def de(name: str) -> str:
    """« de Rennes », « d'Angers », « du Kef », « des Cayes »."""
    for article, contracted in (("Le ", "du "), ("Les ", "des ")):
        if name.startswith(article):
            return contracted + name[len(article):]
    return ("d'" if _elides(name) else "de ") + name


def a(name: str) -> str:
    """« à Kayes », « au Kef », « aux Cayes »."""
    for article, contracted in (("Le ", "au "), ("Les ", "aux ")):
        if name.startswith(article):
            return contracted + name[len(article):]
    return "à " + name


_FRENCH_HEADS = (
    "Ville", "Commune", "Municipalité", "Province", "Région", "Département", "Gouvernorat", "District", "Préfecture",
    "Canton", "Comté", "Cercle", "Wilaya", "APC", "MRC", "Dème", "Comitat", "Communauté", "Union",
)


def fill(form: str, place: str) -> str:
    """A partner's full name from a form such as « Commune de {} », with French elision."""
    if form.endswith(" de {}") and form.split(" ", 1)[0] in _FRENCH_HEADS:
        return form[: -len("de {}")] + de(place)
    return form.format(place)
