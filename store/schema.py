"""Imports every model module so `Base.metadata` knows every table (migrations, export, tests)."""
from store import (  # noqa: F401
    campaign_models, conversation_models, inbound_models, models, prefecture_models, review_models,
)
from store import reviewer_models  # noqa: F401
from store.models import Base

metadata = Base.metadata
