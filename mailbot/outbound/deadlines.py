"""Reading a campaign's deadline as a person types it (pure: text in, a date or a French refusal out).

Two spellings are accepted: ISO `2012-06-30` and the French long form « 30 juin 2012 » (« 1er »,
accents and capitals optional). A numeric date with slashes or dots is read only when a single
reading exists (« 30/06/2012 »): « 1/2/2013 » is the 1st of February in Paris and the 2nd of January
in a spreadsheet set to English, so it is refused rather than guessed. Dates that do not exist
(« 2012-13-01 », « 31 juin 2012 ») are refused, never rolled over to another day.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from babel.dates import format_date

MONTHS = ("janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
          "novembre", "decembre")
MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_FRENCH = re.compile(r"(\d{1,2})(?:er)?\s+([a-z]+)\.?\s+(\d{4})")
_NUMERIC = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")
EXAMPLES = "2012-06-30 ou « 30 juin 2012 »"


class DeadlineError(ValueError):
    """A deadline that cannot be used; the message (French) is shown as is."""


def _plain(text: str) -> str:
    """Lower case without accents, spaces normalised (« 1er Février » → « 1er fevrier »)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def _make(text: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DeadlineError(f"la date « {text} » n'existe pas (jour {day}, mois {month}, année {year}) : "
                            f"écrivez par exemple {EXAMPLES}") from None


def parse_deadline(text: str) -> date:
    """The date `text` names, or DeadlineError saying why it cannot be read."""
    plain = _plain(text)
    if match := _ISO.fullmatch(plain):
        year, month, day = map(int, match.groups())
        return _make(text, year, month, day)
    if match := _FRENCH.fullmatch(plain):
        day, month_name, year = match.groups()
        if month_name not in MONTHS:
            raise DeadlineError(f"mois inconnu « {month_name} » dans « {text} » : écrivez par exemple {EXAMPLES}")
        return _make(text, int(year), MONTHS.index(month_name) + 1, int(day))
    if match := _NUMERIC.fullmatch(plain):
        first, second, year = map(int, match.groups())
        if first <= 12 and second <= 12 and first != second:
            raise DeadlineError(f"la date « {text} » est ambiguë ({first} {MONTH_NAMES[second - 1]} ou {second} "
                                f"{MONTH_NAMES[first - 1]} ?) : écrivez-la sans ambiguïté, par exemple {EXAMPLES}")
        if first > 12 >= second:  # only day/month can be meant
            return _make(text, year, second, first)
        return _make(text, year, first, second)  # month/day, or the same number twice
    raise DeadlineError(f"date illisible « {text} » : écrivez par exemple {EXAMPLES}")


def check_not_past(deadline: date, today: date, *, allow_past: bool) -> None:
    """A deadline already over makes no sense for a new campaign, unless asked for (a test, a replay)."""
    if deadline < today and not allow_past:
        raise DeadlineError(f"la date limite du {french_date(deadline)} est déjà passée "
                            "(--allow-past pour l'accepter quand même)")


def french_date(value: date) -> str:
    """30 juin 2012; « 1er » for the first of the month, as French writes it."""
    text = format_date(value, format="long", locale="fr_FR")
    return text.replace("1 ", "1er ", 1) if value.day == 1 else text
