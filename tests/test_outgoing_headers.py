"""What every outgoing message carries, read back as a mail server and a spam filter would: Date, a From
with the ministry's display name, Auto-Submitted (auto-generated for what the bot sends of its own
accord, auto-replied for answers), exactly one « Re: » on answers, and a DKIM signature that verifies
(dkimpy, the DNS look-up answered from the record `mailbot dkim-keygen` printed)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesParser

import dkim
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailbot.cli.commands import main
from mailbot.config import load_config
from mailbot.outbound.campaign import campaign_rules, get_campaign, render_campaign
from mailbot.outbound.outbox import Recipient
from mailbot.outbound.render import build_message, make_environment, reply_subject, sender_of
from mailbot.outbound.summary import enqueue_summary, reference_lists
from mailbot.prefectures.circular import build_circular
from mailbot.prefectures.report import build_report, territory_reports
from mailbot.replies.answer import answer
from mailbot.review.decide import approve
from mailbot.review.notify import notify_decided, send_digest
from store.campaign_models import OutboundMessage
from store.models import Prefecture
from store.queries import collectivite_records
from tests.review_support import REVIEWERS, campaign_id, collectivite_with, contact_snapshot, inbound_for, make_set, update

FROM_NAME = "Atlas de la coopération décentralisée"
PREFIXED = "RE: TR: Réf. : Fwd: AW: SV: Re : [Atlas 2012] Mise à jour de la fiche de Rennes"


def _dns(printed: str) -> dict[str, bytes]:
    """The TXT record as a resolver returns it: the zone file's strings joined."""
    name = printed.split()[0].rstrip(".")
    return {name: "".join(re.findall(r'"([^"]*)"', printed)).encode()}


def _verifies(raw: bytes, txt: dict[str, bytes]) -> bool:
    def lookup(name, timeout=5):
        return txt.get(name.decode().rstrip("."))

    return dkim.verify(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), dnsfunc=lookup)


@pytest.fixture
def keyed(tmp_path, monkeypatch):
    """A key made by `mailbot dkim-keygen`, and the DNS record it printed."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["dkim-keygen", "--domain", "cncd.example.fr", "--selector", "atlas2012"],
                                env={"MAILBOT_FROM": "atlas@cncd.example.fr"})
    assert result.exit_code == 0, result.output
    [record] = [line for line in result.output.splitlines() if "._domainkey." in line]
    assert record.startswith("atlas2012._domainkey.cncd.example.fr. IN TXT")
    return tmp_path / "dkim-atlas2012.pem", _dns(record)


def test_the_reply_subject_has_one_re_whatever_prefixes_it_had():
    assert reply_subject(PREFIXED) == "Re: [Atlas 2012] Mise à jour de la fiche de Rennes"
    assert reply_subject("Réf. : Re: RE[2]: AW: fiche") == "Re: fiche"
    assert reply_subject("") == "Re: votre message"
    assert reply_subject("Rennes : réponse") == "Re: Rennes : réponse"  # a word that only looks like one


def test_a_message_signed_with_the_printed_key_verifies_and_a_changed_one_does_not(keyed):
    key_path, txt = keyed
    config = load_config(environ={"MAILBOT_DKIM_KEY": str(key_path), "MAILBOT_DKIM_SELECTOR": "atlas2012"})
    message = build_message(make_environment(), "agent_help", {"from_address": config.from_address},
                            sender=sender_of(config), to=["agent@ville.fr"], message_id="<x@cncd.example.fr>")
    raw = message.as_bytes()
    assert b"DKIM-Signature:" in raw and b"d=cncd.example.fr" in raw and b"s=atlas2012" in raw
    assert _verifies(raw, txt)
    assert not _verifies(raw.replace("Ministère".encode(), "Ministere".encode()), txt)
    assert not _verifies(raw, {})  # no record published: no proof


def test_every_kind_of_message_has_its_headers_and_verifies(keyed, seeded_db_url, seeded_sessions, seeded_engine):
    key_path, txt = keyed
    config = load_config(environ={"MAILBOT_DB": seeded_db_url, "MAILBOT_DKIM_KEY": str(key_path),
                                  "MAILBOT_DKIM_SELECTOR": "atlas2012", "MAILBOT_DKIM_DOMAIN": "cncd.example.fr",
                                  **REVIEWERS})
    kinds: dict[str, str] = {}  # outbound id → what it is
    with seeded_sessions.begin() as session:
        campaign_id(session)
    render_campaign(seeded_engine, seeded_sessions, config, "c2012", limit=2)
    with seeded_sessions.begin() as session:
        campaign = get_campaign(session, "c2012")
        coll = collectivite_with(session)
        record = collectivite_records(session, [coll.id])[coll.id]
        reminder = enqueue_summary(session, config, campaign=campaign, rules=campaign_rules(campaign),
                                   references=reference_lists(session), collectivite_id=coll.id, record=record,
                                   recipients=[Recipient("agent@ville.fr")], kind="reminder", reminder_number=1)
        kinds[reminder.id] = "reminder"
        for number, (template, context) in enumerate([
                ("agent_help", {}), ("agent_token_invalid", {"problem": "missing"}),
                ("agent_identify_question", {"candidates": ["Rennes (35)", "Rennes-le-Château (11)"]}),
                ("agent_identify_request", {}),
                ("agent_ack", {"sections": [], "problems": ["Un formulaire illisible."]})]):
            inbound = inbound_for(session, f"agent{number}@mairie.example.fr", 9000 + number)
            inbound.subject = PREFIXED
            kinds[answer(session, config, inbound, template=template, answer_kind=f"k{number}",
                         outbound_kind="answer", context=context).id] = "help" if template == "agent_help" else "answer"
        set_id = make_set(session, coll, [update("contact", contact_snapshot(session, coll.contacts[0].ref), "title",
                                                 "Maire adjointe")])
        prefecture = session.scalar(select(Prefecture).where(Prefecture.departement == coll.departement)) or \
            session.scalar(select(Prefecture).limit(1))
        circular = build_circular(config, campaign, prefecture, [])
        report = build_report(config, campaign, territory_reports(session, campaign)[0])
    approve(seeded_sessions, config, set_id, "Claire Martin")
    for outbound_id in notify_decided(seeded_sessions, config):
        kinds[outbound_id] = "decision"
    kinds[send_digest(seeded_sessions, config, ["relecteurs@cncd.example.fr"])] = "digest"
    with seeded_sessions() as session:
        rows = {o.id: o for o in session.scalars(select(OutboundMessage))}
    summaries = [i for i, o in rows.items() if o.kind == "summary"]
    assert summaries and {"reminder", "answer", "help", "decision", "digest"} <= set(kinds.values())
    kinds.update({i: "summary" for i in summaries})
    raws = {f"{kind} {i}": rows[i].raw for i, kind in kinds.items()}
    raws["circular"], raws["report"] = circular.as_bytes(), report.as_bytes()
    now = datetime.now(timezone.utc)
    for what, raw in raws.items():
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert abs(message["Date"].datetime - now) < timedelta(minutes=10), what
        [sender] = message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (FROM_NAME, config.from_address), what
        expected = "auto-replied" if what.startswith(("answer", "help")) else "auto-generated"
        assert message["Auto-Submitted"] == expected, what
        if what.startswith("answer"):
            assert message["Subject"].startswith("Re: [Atlas 2012] Mise à jour de la fiche de Rennes"), what
            assert len(re.findall(r"\b(?:re|tr|fwd|aw|sv|r[ée]f)\b", message["Subject"], re.I)) == 1, what
        assert _verifies(raw, txt), what
