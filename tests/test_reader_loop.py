"""The reader, through `mailbot serve` over SMTP (issue #15, points 1 and 5): replies written by hand the
way real clients write them (tests/fixtures/replies/), sent to the running server; what reviewers get
and what the agent is told.

Each reply answers a real summary of a collectivité whose record is fixed (tests/reader_support.py),
so that the fixture quotes exactly the form that summary showed.
"""
from __future__ import annotations

import json
import smtplib
import threading
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.cli.commands import main
from mailbot.clock import smtp_listening, wait_for
from mailbot.config import load_config
from mailbot.devtools.sink import free_port, start_sink
from mailbot.outbound.campaign import campaign_rules, create_campaign
from mailbot.outbound.outbox import Recipient
from mailbot.outbound.summary import enqueue_summary, reference_lists
from mailbot.review.decide import approve
from mailbot.serve import run_serve
from store.campaign_models import CampaignTarget
from store.inbound_models import InboundMessage
from store.models import ApdAmount, Collectivite, Cooperation, Project
from store.queries import collectivite_records
from tests.reader_support import MONT, VAL, add_collectivite, fill, fixture

RULES = Path(__file__).resolve().parent.parent / "rules" / "campagne-2012.toml"
REVIEWERS = "Claire Martin"


def wire(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


@pytest.fixture
def loop(seeded_db_url, seeded_sessions, seeded_engine):
    """A running `serve` whose relay is a local sink, and the summaries of Val-d'Atlas and Mont-Atlas
    in its outbox: {code: (token, Message-ID)}."""
    controller, sink = start_sink()
    port = free_port()
    config = load_config(environ={
        "MAILBOT_DB": seeded_db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}",
        "MAILBOT_LISTEN": f"127.0.0.1:{port}", "MAILBOT_SECRET": "reader", "MAILBOT_FROM": "atlas@cncd.example.fr",
        "MAILBOT_REVIEWERS": REVIEWERS,
    })
    forms = {}
    with seeded_sessions.begin() as session:
        added = [(spec, add_collectivite(session, spec)) for spec in (VAL, MONT)]
        campaign = create_campaign(session, "c2012", RULES, date(2012, 6, 30))  # targets them too
        for spec, coll in added:
            record = collectivite_records(session, [coll.id])[coll.id]
            outbound = enqueue_summary(session, config, campaign=campaign, rules=campaign_rules(campaign),
                                       references=reference_lists(session), collectivite_id=coll.id, record=record,
                                       recipients=[Recipient(f"marie.dupont@{spec['mail']}")])
            forms[spec["code"]] = (outbound.token, outbound.message_id)
    stop = threading.Event()
    thread = threading.Thread(target=run_serve, args=(config,), kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    wait_for(lambda: smtp_listening(port), 20)
    yield Loop(config, sink, port, seeded_sessions, forms)
    stop.set()
    thread.join(timeout=30)
    controller.stop()


class Loop:
    def __init__(self, config, sink, port, sessions, forms):
        self.config, self.sink, self.port, self.sessions, self.forms = config, sink, port, sessions, forms

    def send(self, name: str, code: str = VAL["code"]) -> str:
        """Send fixture `name` as a reply to `code`'s summary; wait until it is understood and its
        acknowledgement reached the relay; the acknowledgement's text."""
        token, message_id = self.forms[code]
        raw = fill(fixture(name), token, message_id)
        reply = parse(raw)
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(reply["From"].addresses[0].addr_spec, [f"atlas+{token}@cncd.example.fr"], wire(raw))
        ack = wait_for(lambda: next((m for m in list(self.sink.messages)
                                     if parse(m.content)["In-Reply-To"] == reply["Message-ID"]), None), 60)
        return " ".join(parse(ack.content).get_body(("plain",)).get_content().split())  # as read, not as wrapped

    def sets(self, status: str = "pending") -> list[dict]:
        result = CliRunner().invoke(main, ["review", "list", "--status", status, "--json"], env={"MAILBOT_DB": self.config.db})
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def show(self, changeset_id: int) -> dict:
        result = CliRunner().invoke(main, ["review", "show", str(changeset_id), "--json"],
                                    env={"MAILBOT_DB": self.config.db})
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def confirmed(self, code: str = VAL["code"]) -> bool:
        with self.sessions() as session:
            target = session.scalar(select(CampaignTarget).join(Collectivite, Collectivite.id == CampaignTarget.collectivite_id)
                                    .where(Collectivite.code == code))
            return target.confirmed_at is not None


def changes(row: dict) -> set[tuple]:
    return {(c["op"], c["entity"], c["ref"], c["field"], json.dumps(c["new"], sort_keys=True), bool(c["errors"]))
            for c in row["changes"]}


# --- 1. Every human message lands somewhere a person sees it ------------------------------------------------

@pytest.mark.parametrize("name, sentence", [
    ("gmail_untouched_form_with_a_sentence.eml", "M. Jean Martin ne fait plus partie de nos services"),
    ("outlook_no_longer_in_post.eml", "Je ne suis plus en poste, merci de me retirer de vos envois."),
])
def test_words_above_an_untouched_form_are_a_set_for_reviewers_not_a_confirmation(loop, name, sentence):
    ack = loop.send(name)
    [row] = loop.sets()
    assert row["collectivite"] == VAL["code"] and row["changes"] == []
    assert sentence in loop.show(row["id"])["note"]
    assert not loop.confirmed()
    assert "confirmée" not in ack and sentence in ack
    assert "transmis à la Délégation" in ack


def test_a_comment_typed_under_a_quoted_field_is_kept_for_reviewers_and_changes_nothing(loop):
    """Thunderbird, format=flowed: the agent writes, unquoted, under « > Titre* : … »."""
    ack = loop.send("thunderbird_flowed_comment_under_a_field.eml")
    [row] = loop.sets()
    assert row["changes"] == []  # the title is not « Directeur … Il a quitté la collectivité … »
    note = loop.show(row["id"])["note"]
    assert "[CT-VDAC02] Il a quitté la collectivité en janvier ; son successeur n'est pas encore nommé, nous " \
           "vous le signalerons dès que possible." in note
    assert not loop.confirmed() and "confirmée" not in ack and "Il a quitté la collectivité" in ack


def test_rien_a_signaler_and_a_signature_is_a_confirmation_and_the_acknowledgement_says_so(loop):
    """iPhone, the quote deleted: « Rien à signaler, merci », a signature with address and phone."""
    ack = loop.send("iphone_ras_with_signature.eml")
    assert loop.confirmed()
    assert loop.sets() == []
    assert "votre fiche est confirmée" in ack
    with loop.sessions() as session:
        details = session.scalar(select(InboundMessage.details).where(InboundMessage.kind == "reply"))
    assert details["words"]["kind"] == "confirmation"
    assert details["understood"][0]["confirmed"] is True and details["understood"][0]["changeset"] is None


def test_ras_above_a_colleagues_forward_with_the_form_two_levels_deep_is_a_confirmation(loop):
    ack = loop.send("apple_mail_nested_quotes_ras.eml")
    assert loop.confirmed() and loop.sets() == [] and "votre fiche est confirmée" in ack


# --- 5. The reader --------------------------------------------------------------------------------------------

def test_a_wrapped_line_of_prose_with_a_colon_continues_its_value(loop):
    """Outlook, plain text hard-wrapped at 76 columns: the description's wrapped lines contain « : »."""
    loop.send("outlook_plain_wrapped_description_with_colons.eml")
    [row] = loop.sets()
    [change] = row["changes"]
    assert (change["ref"], change["field"]) == ("PJ-VDAJ01", "description")
    assert change["new"] == ("Réhabilitation de bornes-fontaines dans trois quartiers de Dakar, en deux volets : "
                             "formation des comités de gestion de l'eau, et suivi de la qualité : analyses "
                             "trimestrielles par le laboratoire municipal.")


@pytest.mark.parametrize("name", ["thunderbird_form_cut_signature_below.eml",
                                  "orange_webmail_copied_section_cut_signature.eml"])
def test_a_form_cut_before_its_closing_line_does_not_read_the_signature(loop, name):
    """The signature's « Courriel : … », « Tél : … » after a cut form invent no contact."""
    ack = loop.send(name)
    [row] = loop.sets()
    assert changes(row) == {("update", "contact", "CT-VDAC02", "title", '"Directeur g\\u00e9n\\u00e9ral des services"', False)}
    assert "Nouveau contact" not in ack and "→ Directeur général des services" in ack


def test_iso_8859_1_label_is_read_as_windows_1252(loop):
    """Windows Live Mail labels its part ISO-8859-1 and writes € as byte 0x80, ’ as 0x92."""
    ack = loop.send("windows_live_mail_latin1_label_euro.eml")
    [row] = loop.sets()
    assert changes(row) == {
        ("update", "apd", "APD-2010", "amount", '"12500.00"', False),
        ("update", "contact", "CT-VDAC01", "title", '"Adjointe \\u00e0 l\'action internationale"', False),
    } or changes(row) == {
        ("create", "apd", "APD-2010", "amount", '"12500.00"', False),
        ("update", "contact", "CT-VDAC01", "title", '"Adjointe \\u00e0 l\'action internationale"', False),
    }
    assert "Nous n'avons pas pu" not in ack, ack
    assert "APD 2010 : (vide) → 12 500 €" in ack


def test_blocks_pasted_from_another_communes_form_are_reported_never_diffed(loop):
    """Val-d'Atlas's form carries Mont-Atlas's APD block (an amount for 2010) and its filled new-contact
    block: neither changes Val-d'Atlas; the agent is told why."""
    ack = loop.send("gmail_other_communes_blocks_pasted.eml")
    [row] = loop.sets()
    assert row["collectivite"] == VAL["code"]
    assert changes(row) == {("update", "contact", "CT-VDAC02", "title", '"Directeur g\\u00e9n\\u00e9ral des services"', False)}
    assert row["has_errors"] is True
    for ref in ("APD", "NOUVEAU-CONTACT"):
        assert f"Le bloc {ref} (ligne" in ack and f"vient du formulaire d'une autre collectivité ({MONT['code']})" in ack
    assert "8 000" not in ack.split("Nous n'avons pas pu")[0] and "Luc" not in ack.split("Nous n'avons pas pu")[0]
    # Reviewers read the same reasons the agent was told, in `review show` (JSON and text).
    shown = loop.show(row["id"])["not_understood"]
    assert any(f"vient du formulaire d'une autre collectivité ({MONT['code']})" in p for p in shown), shown
    text = CliRunner().invoke(main, ["review", "show", str(row["id"])], env={"MAILBOT_DB": loop.config.db}).output
    assert "Non compris : Le bloc APD (ligne" in text
    with loop.sessions() as session:
        assert session.scalar(select(ApdAmount.amount).join(Collectivite).where(
            Collectivite.code == MONT["code"], ApdAmount.year == 2010)) is None


def test_a_move_and_the_corrections_of_the_same_block_are_both_kept(loop):
    """Outlook HTML: the action in Haiti becomes a cooperation, and its partner is written in."""
    ack = loop.send("outlook_action_becomes_cooperation.eml")
    [row] = loop.sets()
    assert changes(row) == {("move", "action", "CO-VDAX01", "kind", '"cooperation"', False),
                            ("update", "action", "CO-VDAX01", "partner", '"Jacmel"', False)}
    assert "devient une coopération décentralisée" in ack and "→ Jacmel" in ack
    approve(loop.sessions, loop.config, row["id"], REVIEWERS)
    with loop.sessions() as session:
        moved = session.scalar(select(Cooperation).where(Cooperation.ref == "CO-VDAX01"))
        assert (moved.kind, moved.partner.name) == ("cooperation", "Jacmel")


def test_a_new_project_names_the_new_cooperation_of_the_same_reply(loop):
    """Gmail: « #### NOUVELLE-COOPERATION 1 · … » filled, and a new project whose parent is
    « NOUVELLE-COOPERATION 1 »: both understood, approved, the project under the new cooperation."""
    ack = loop.send("gmail_new_cooperation_and_its_project.eml")
    [row] = loop.sets()
    created = [c for c in row["changes"] if c["op"] == "create"]
    assert [(c["entity"], c["errors"]) for c in created] == [("cooperation", []), ("projet", [])]
    assert created[1]["parent_ref"] == created[0]["ref"] == "NOUVELLE-COOPERATION#1"
    assert "Nous n'avons pas pu" not in ack and "rattaché à la nouvelle coopération décentralisée de ce message" in ack
    approve(loop.sessions, loop.config, row["id"], REVIEWERS)
    with loop.sessions() as session:
        project = session.scalar(select(Project).where(Project.title == "Appui à l'état civil"))
        assert project is not None and project.cooperation.country_code == "ML"
        assert project.cooperation.partner.name == "Ségou"
        assert project.cooperation.collectivite.code == VAL["code"]
