"""Every route of the console, as data: path, method, view, and who may open it ("public": anyone,
"reviewer": a signed-in, active reviewer). The access-control tests walk this list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mailbot.web import views_bulk, views_progress, views_queue, views_set, views_signin


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    view: Callable
    access: str
    name: str


S = "/ensembles/{set_id:int}"
ROUTES: tuple[RouteSpec, ...] = (
    RouteSpec("GET", "/connexion", views_signin.signin_form, "public", "signin"),
    RouteSpec("POST", "/connexion", views_signin.signin_request, "public", "signin_request"),
    RouteSpec("GET", "/connexion/lien/{token}", views_signin.link_page, "public", "signin_link"),
    RouteSpec("POST", "/connexion/lien/{token}", views_signin.link_use, "public", "signin_link_use"),
    RouteSpec("POST", "/deconnexion", views_signin.signout, "reviewer", "signout"),
    RouteSpec("GET", "/", views_queue.queue, "reviewer", "queue"),
    RouteSpec("GET", S, views_set.set_page, "reviewer", "set"),
    RouteSpec("GET", S + "/suivant", views_set.next_set, "reviewer", "next_set"),
    RouteSpec("GET", S + "/message.eml", views_set.message_download, "reviewer", "message"),
    RouteSpec("GET", S + "/pieces/{index:int}", views_set.attachment, "reviewer", "attachment"),
    RouteSpec("GET", S + "/fichiers/{attachment_id:int}", views_set.stored_attachment, "reviewer", "stored_attachment"),
    RouteSpec("POST", S + "/repondre", views_set.reply_agent, "reviewer", "reply"),
    RouteSpec("POST", S + "/prendre", views_set.take_over, "reviewer", "take_over"),
    RouteSpec("POST", S + "/liberer", views_set.release_set, "reviewer", "release"),
    RouteSpec("POST", S + "/approuver", views_set.approve_set, "reviewer", "approve"),
    RouteSpec("POST", S + "/rejeter", views_set.reject_set, "reviewer", "reject"),
    RouteSpec("POST", S + "/corriger/{change_id:int}", views_set.edit_change, "reviewer", "edit"),
    RouteSpec("POST", S + "/trancher/{change_id:int}", views_set.resolve_change, "reviewer", "resolve"),
    RouteSpec("GET", "/lot", views_bulk.bulk_page, "reviewer", "bulk"),
    RouteSpec("POST", "/lot", views_bulk.bulk_confirm, "reviewer", "bulk_confirm"),
    RouteSpec("GET", "/campagne", views_progress.progress, "reviewer", "progress"),
)
