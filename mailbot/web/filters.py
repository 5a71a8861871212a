"""The queue's filters as a reviewer writes them in the URL (French parameter names), read into a
`QueueQuery` and written back for links (pages, sort, the next set). Pure."""
from __future__ import annotations

from urllib.parse import urlencode

from store.console_queries import SORTS, QueueQuery
from store.models import KINDS
from store.review_queries import QueueFilter

STATUSES = ("pending", "approved", "rejected", "partial", "superseded", "confirmed")
# parameter → (QueueFilter field, what « oui » means); tri-state: absent = any, oui, non
FLAGS = {"reconnu": "trusted", "erreurs": "with_errors", "conflits": "with_conflicts", "concurrents": "competing"}
KIND_LABELS = {"changes": "modifications", "message": "messages à lire"}
SORT_LABELS = {"anciens": "les plus anciens d'abord", "recents": "les plus récents d'abord",
               "collectivite": "par collectivité", "departement": "par département"}
PARAMS = ("statut", "region", "departement", "type", "nature", "reconnu", "erreurs", "conflits", "concurrents",
          "pieces", "q", "tri")


def _tri(value: str) -> bool | None:
    return {"oui": True, "non": False}.get(value)


def parse(params) -> QueueQuery:
    """A QueueQuery from request parameters; anything unknown falls back to the default."""
    status = params.get("statut", "pending")
    kind = params.get("type", "")
    page = params.get("page", "1")
    where = QueueFilter(
        status=status if status in STATUSES else None if status == "tous" else "pending",
        region=params.get("region", "").strip()[:3] or None,
        departement=params.get("departement", "").strip().upper()[:3] or None,
        kind=kind if kind in KINDS else None,
        set_kind=params.get("nature") if params.get("nature") in KIND_LABELS else None,
        **{name: _tri(params.get(param, "")) for param, name in FLAGS.items()})
    sort = params.get("tri", "anciens")
    return QueueQuery(where=where, search=params.get("q", "").strip()[:200],
                      attachments=_tri(params.get("pieces", "")), sort=sort if sort in SORTS else "anciens",
                      page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1)


def to_params(q: QueueQuery, **overrides) -> dict[str, str]:
    """The parameters that give `q` back (defaults left out), with `overrides` on top."""
    w = q.where
    values = {
        "statut": "tous" if w.status is None else w.status if w.status != "pending" else "",
        "region": w.region or "", "departement": w.departement or "", "type": w.kind or "",
        "nature": w.set_kind or "",
        **{param: _yes_no(getattr(w, name)) for param, name in FLAGS.items()},
        "pieces": _yes_no(q.attachments), "q": q.search, "tri": "" if q.sort == "anciens" else q.sort,
        "page": "" if q.page == 1 else str(q.page),
    }
    values.update({k: str(v) for k, v in overrides.items()})
    return {k: v for k, v in values.items() if v}


def query_string(q: QueueQuery, **overrides) -> str:
    params = to_params(q, **overrides)
    return f"?{urlencode(params)}" if params else ""


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "oui" if value else "non"
