"""Campaign rules as data (`rules/*.toml`, see docs/rules.md) and the small engine that applies them.

A rules file lists the parts of the Atlas form in the circular's order and, per part, its fields:
model attribute, French label, type, mandatory or not, allowed values. `load_rules` checks the whole
file when it loads, so a broken file stops a campaign before any summary goes out. `check_record`
turns what a person wrote on form lines into typed values and French errors, as data.

Pure: apart from `load_rules` reading its file, nothing here touches disk, network or database.
Reference lists (themes, networks) are passed in; countries come from pycountry and babel.

Value readers, also used on their own by the reply parser: `parse_euros`, `parse_year` and
`check_email` raise `ValueRejected` (code + French message); `parse_yesno`, `match_choice`,
`match_several` and `match_country` return None where nothing fits, because callers also use them
as plain look-ups (a `Supprimer` switch that is not a clear « oui » is simply not a deletion).

The engine is split by job: `model` (the typed rules), `matching` (fuzzy matching, countries),
`values` (reading one value by its type), `check` (a record part against its rules), `load` (reading
and checking a rules file). This package re-exports their public names.
"""
from __future__ import annotations

from mailbot.rules.check import (  # noqa: F401
    PART_RULES,
    PartRule,
    check_apd_year,
    check_record,
)
from mailbot.rules.load import (  # noqa: F401
    PART_ATTRIBUTES,
    REFERENCE_LISTS,
    load_rules,
    parse_rules_text,
)
from mailbot.rules.matching import (  # noqa: F401
    AMBIGUITY_MARGIN,
    AMBIGUOUS_COUNTRY_NAMES,
    COUNTRY_ALIASES,
    FUZZY_THRESHOLD,
    INFLECTED_SCORE,
    ChoiceMatch,
    country_name,
    fold,
    match_choice,
    match_country,
    match_several,
    normalise_text,
    suggest_choices,
    suggest_countries,
)
from mailbot.rules.model import (  # noqa: F401
    MAX_LENGTH_BY_TYPE,
    MAX_NOTE_LENGTH,
    MAX_SEVERAL,
    RAW_LENGTH_FACTOR,
    max_length,
    CampaignContact,
    CheckResult,
    Choice,
    Condition,
    FieldRule,
    FuzzyMatch,
    Part,
    Plausibility,
    ReferenceLists,
    RuleError,
    Rules,
    RulesFileError,
    ValueRejected,
)
from mailbot.rules.values import (  # noqa: F401
    CHOICE_TYPES,
    FIELD_TYPES,
    FieldType,
    Parsed,
    check_email,
    choices_for,
    parse_euros,
    parse_year,
    parse_yesno,
    suggest_case,
    written_in_capitals,
)
