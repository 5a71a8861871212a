"""A change set's page and the decisions taken on it: approve all or some, reject with a reason, edit
a value (the rules check it), settle a conflict either way, take a set over from another reviewer."""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.responses import Response

from mailbot.clock import utcnow
from mailbot.inbound.attachments import safe_filename
from mailbot.review.decide import approve, edit, reject, resolve
from mailbot.review.history import INBOUND_LABELS, OUTBOUND_LABELS, STATUS_LABELS, timeline
from mailbot.review.reply import MAX_REPLY_CHARS, reply_to_agent
from mailbot.review.verdict import FINAL_STATES, ReviewError
from mailbot.web import filters, message_view, present
from mailbot.web.accounts import deliver
from mailbot.web.decisions import decide, tell_agents
from mailbot.web.page import Page, error_page
from mailbot.web.warnings import set_warnings
from store import console_queries as q
from store.conversation_models import InboundAttachment
from store.inbound_models import InboundMessage
from store.queries import collectivite_records
from store.review_models import Change, ChangeSet
from store.review_queries import attachments_data, get_changeset, raw_message

CHANGE_KEYS = ("id", "op", "entity", "ref", "field", "old", "new", "errors", "matches", "status", "current",
               "asked", "reason", "edited_by", "decided_by")


def _set_id(page: Page) -> int:
    return int(page.request.path_params["set_id"])


def _back(page: Page) -> str:
    """The queue's parameters this set was opened from, kept on every link and form of the page."""
    return filters.query_string(filters.parse(page.request.query_params))


def set_page(page: Page) -> Response:
    console, set_id, me = page.console, _set_id(page), page.reviewer.name
    now = utcnow()
    with console.sessions.begin() as session:
        data = get_changeset(session, set_id)
        if data is None:
            return error_page(page, 404, "Ensemble introuvable", f"Aucun ensemble de modifications n° {set_id}.")
        changeset = session.get(ChangeSet, set_id)
        holder = q.claim(session, set_id, me, now, minutes=console.claim_minutes) \
            if data["status"] == "pending" else None
        since = q.claim_holder(session, set_id, now)
        # rows rather than ORM objects: a whole record as objects costs the page half its time
        record = collectivite_records(session, [changeset.collectivite_id]).get(changeset.collectivite_id)
        labels = console.labels.get(session, changeset.campaign_id)
        competing = q.competing_sets(session, set_id, changeset.collectivite_id)
        raw = raw_message(session, set_id)
        conversation = _conversation(session, data["collectivite"])
        files = attachments_data(session, changeset.inbound_id)
        warnings = set_warnings(session, set_id)
        touched = {(c["entity"], c["ref"], c["field"]) for c in data["changes"]}
        regions, departements = console.territories(session)
        rivals = [(cs, [present.change_view(_as_dict(c), labels) for c in cs.changes
                        if (c.entity, c.ref, c.field) in touched]) for cs in competing]
    changes = [present.change_view(c, labels) for c in data["changes"]]
    return page.render(
        "set.html", data=data, record=record, changes=changes, held_by=holder if holder != me else None,
        held_since=since[1] if since else None, rivals=rivals, message=message_view.view(raw) if raw else None,
        conversation=conversation, files=files, can_reply=bool(changeset.inbound_id and changeset.sender),
        reply_limit=MAX_REPLY_CHARS, warnings=warnings, back=_back(page),
        focus=page.param("action"), labels=labels,
        territory={"region": dict(regions).get(data["region"], data["region"]),
                   "departement": dict(departements).get(data["departement"], data["departement"])})


def _as_dict(change: Change) -> dict:
    return {key: getattr(change, key) for key in CHANGE_KEYS}


def _conversation(session, code: str) -> list[dict]:
    """The collectivité's conversation, oldest first, as the review core tells it (`review.history.timeline`):
    messages received and sent (a reviewer's answer with its author and text) and decisions on its sets;
    the changes applied are on the record beside it."""
    entries = [e for e in timeline(session, code) if e["type"] != "change"]
    for entry in entries:
        entry["label"] = (INBOUND_LABELS.get(entry.get("kind"), entry.get("kind") or "") if entry["type"] == "message_in"
                          else OUTBOUND_LABELS.get(entry.get("kind"), entry.get("kind") or "")
                          if entry["type"] == "message_out" else STATUS_LABELS.get(entry["status"], entry["status"]))
        entry["when"] = present.when_iso(entry["at"])
    return entries


# --- decisions -------------------------------------------------------------------------------------------

def _chosen(page: Page) -> list[int] | None:
    """The changes ticked (« approuver la sélection »), or None for the whole set."""
    if page.param("portee") != "selection":
        return None
    return [int(v) for v in page.form.getlist("changement") if str(v).isdigit()]


def _finish(page: Page, outcomes: list, back: str, set_id: int) -> Response:
    console = page.console
    sentences = [present.outcome_sentence(o.changeset_id, o.status, len(o.applied), len(o.rejected),
                                          len(o.conflicts), len(o.untouched)) for o in outcomes]
    if page.request.headers.get("hx-request") and page.param("depuis") == "file":
        response = page.render("queue_row_done.html", set_id=set_id, sentence=" ".join(sentences),
                               outcome=outcomes[0].status)
    else:
        response = page.redirect(f"/ensembles/{set_id}{back}", " ".join(sentences))
    if any(o.status in FINAL_STATES for o in outcomes):
        response.background = BackgroundTask(tell_agents, console.engine, console.sessions, console.config)
    return response


def _refused(page: Page, exc: ReviewError, back: str, set_id: int) -> Response:
    message = str(exc)
    message = message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")
    if page.request.headers.get("hx-request") and page.param("depuis") == "file":
        return page.render("queue_row_done.html", set_id=set_id, sentence=message, outcome="refused")
    return page.redirect(f"/ensembles/{set_id}{back}", message)


def _act(page: Page, action) -> Response:
    set_id, back = _set_id(page), _back(page)
    try:
        outcomes = decide(set_id, page.reviewer.name, page.console.readers, action)
    except ReviewError as exc:
        return _refused(page, exc, back, set_id)
    return _finish(page, outcomes, back, set_id)


def approve_set(page: Page) -> Response:
    console, set_id, only = page.console, _set_id(page), _chosen(page)
    if only == []:
        return _refused(page, ReviewError("cochez au moins une modification à approuver"), _back(page), set_id)
    return _act(page, lambda: approve(console.sessions, console.config, set_id, page.reviewer.name, only=only))


def reject_set(page: Page) -> Response:
    console, set_id, only = page.console, _set_id(page), _chosen(page)
    reason = page.param("raison").strip()[:2000]
    if only == []:
        return _refused(page, ReviewError("cochez au moins une modification à rejeter"), _back(page), set_id)
    return _act(page, lambda: reject(console.sessions, console.config, set_id, page.reviewer.name, reason,
                                     only=only))


def _change_of_set(page: Page) -> int:
    change_id, set_id = int(page.request.path_params["change_id"]), _set_id(page)
    with page.console.readers() as session:
        owner = session.scalar(select(Change.changeset_id).where(Change.id == change_id))
    if owner != set_id:
        raise ReviewError(f"le changement n° {change_id} n'appartient pas à l'ensemble n° {set_id}")
    return change_id


def resolve_change(page: Page) -> Response:
    console, set_id = page.console, _set_id(page)
    take = {"demande": "asked", "actuel": "current"}.get(page.param("prendre"))
    try:
        change_id = _change_of_set(page)
        if take is None:
            raise ReviewError("choisissez « prendre la demande » ou « garder l'actuel »")
    except ReviewError as exc:
        return _refused(page, exc, _back(page), set_id)
    return _act(page, lambda: resolve(console.sessions, console.config, change_id, page.reviewer.name, take=take))


def edit_change(page: Page) -> Response:
    console, set_id, back = page.console, _set_id(page), _back(page)
    value, field_key = page.param("valeur")[:2000], page.param("champ").strip()[:40] or None
    try:
        change_id = _change_of_set(page)
        decide(set_id, page.reviewer.name, console.readers, lambda: [])
        change = edit(console.sessions, console.config, change_id, page.reviewer.name, value, field_key=field_key)
    except ReviewError as exc:
        return _refused(page, exc, back, set_id)
    errors = " ; ".join(e["message"] for e in change.errors)
    flash = f"Modification n° {change_id} corrigée" + (f" — les règles signalent : {errors}" if errors else
                                                        " : les règles l'acceptent.")
    return page.redirect(f"/ensembles/{set_id}{back}#changement-{change_id}", flash)


def take_over(page: Page) -> Response:
    console, set_id = page.console, _set_id(page)
    with console.sessions.begin() as session:
        before = q.claim_holder(session, set_id, utcnow())
        q.claim(session, set_id, page.reviewer.name, utcnow(), minutes=console.claim_minutes, take_over=True)
    taken = f" (il était en cours chez {before[0]})" if before and before[0] != page.reviewer.name else ""
    return page.redirect(f"/ensembles/{set_id}{_back(page)}", f"Vous avez pris la main sur l'ensemble n° {set_id}{taken}.")


def release_set(page: Page) -> Response:
    with page.console.sessions.begin() as session:
        q.release(session, _set_id(page), page.reviewer.name)
    return page.redirect(f"/{_back(page)}", f"Ensemble n° {_set_id(page)} laissé aux autres relecteurs.")


def next_set(page: Page) -> Response:
    query = filters.parse(page.request.query_params)
    with page.console.readers() as session:
        following = q.next_id(session, query, _set_id(page))
    if following is None:
        return page.redirect(f"/{filters.query_string(query)}", "Plus aucun ensemble après celui-ci dans la file.")
    return page.redirect(f"/ensembles/{following}{filters.query_string(query)}")


def reply_agent(page: Page) -> Response:
    """Answer the agent whose message made this set, signed by the signed-in reviewer, in the agent's thread."""
    console, set_id, back = page.console, _set_id(page), _back(page)
    text = page.param("texte")[:MAX_REPLY_CHARS + 1]  # one more: the core says it is too long
    try:
        if not text.strip():
            raise ReviewError("écrivez votre réponse : l'agent la lira")
        decide(set_id, page.reviewer.name, console.readers, lambda: [])  # not while another reviewer holds it
        with console.sessions.begin() as session:
            sent = reply_to_agent(session, console.config, set_id, page.reviewer.name, text)
    except ReviewError as exc:
        return _refused(page, exc, back, set_id)
    response = page.redirect(f"/ensembles/{set_id}{back}#conversation",
                             f"Votre réponse à {sent.to} est partie dans le fil de son message (message n° {sent.outbound_id}).")
    response.background = BackgroundTask(deliver, console.engine, console.config, [sent.outbound_id])
    return response


# --- downloads -------------------------------------------------------------------------------------------

def _download(data: bytes, filename: str) -> Response:
    """Always a download, never shown by the browser: an agent's file cannot run in the console."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, media_type="application/octet-stream", headers={
        "content-disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}",
        "content-security-policy": "default-src 'none'; sandbox"})


def message_download(page: Page) -> Response:
    with page.console.readers() as session:
        raw = raw_message(session, _set_id(page))
    if raw is None:
        return error_page(page, 404, "Message introuvable", "Cet ensemble n'a pas de message d'origine.")
    return _download(raw, f"ensemble-{_set_id(page)}.eml")


def attachment(page: Page) -> Response:
    with page.console.readers() as session:
        raw = raw_message(session, _set_id(page))
    found = message_view.attachment_bytes(raw, int(page.request.path_params["index"])) if raw else None
    if found is None:
        return error_page(page, 404, "Pièce jointe introuvable", "Ce message n'a pas cette pièce jointe.")
    return _download(found[1], found[0])


def stored_attachment(page: Page) -> Response:
    """A file of one of the collectivité's messages, as the store kept it, under a name that cannot
    escape a directory nor run by a double click when it is flagged dangerous."""
    set_id, attachment_id = _set_id(page), int(page.request.path_params["attachment_id"])
    with page.console.readers() as session:
        changeset = session.get(ChangeSet, set_id)
        row = session.get(InboundAttachment, attachment_id)
        message = session.get(InboundMessage, row.inbound_id) if row is not None else None
        mine = changeset is not None and message is not None and \
            (message.id == changeset.inbound_id or message.collectivite_id == changeset.collectivite_id)
        if not mine:
            return error_page(page, 404, "Pièce jointe introuvable", "Cette collectivité n'a pas envoyé cette pièce jointe.")
        if row.data is None:
            return error_page(page, 404, "Pièce jointe non conservée à part",
                              "Elle était trop volumineuse : elle se trouve dans le message d'origine (.eml).")
        return _download(row.data, safe_filename(row.filename, row.id, dangerous=row.dangerous))
