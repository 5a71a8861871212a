"""Imports every model module so `Base.metadata` knows every table (migrations, export, tests)."""
from store import campaign_models, inbound_models, models, prefecture_models, review_models  # noqa: F401
from store import reviewer_models  # noqa: F401
from store.models import Base

metadata = Base.metadata
