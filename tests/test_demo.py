"""The README's main command: the whole loop runs from embedded defaults and ends with the store
showing the approved changes (a subprocess, as a newcomer runs it)."""
from __future__ import annotations

import subprocess
import sys
from email import policy
from email.parser import BytesParser

from sqlalchemy import create_engine, text


def test_the_demo_runs_the_whole_loop(tmp_path):
    out = tmp_path / "demo-out"
    result = subprocess.run([sys.executable, "-m", "mailbot", "demo", "--out", str(out)], capture_output=True,
                            text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    for heading in ("Un Atlas local", "Des agents répondent", "répond à l'agent", "La file des relecteurs", "décide",
                    "Chaque agent apprend", "L'Atlas maintenant"):
        assert heading in result.stdout
    assert "La console de relecture sur ce magasin : `mailbot demo --web`" in result.stdout
    engine = create_engine(f"sqlite:///{out / 'atlas.sqlite'}")
    with engine.connect() as conn:
        states = dict(conn.execute(text("SELECT status, count(*) FROM change_set GROUP BY status")).all())
        applied = conn.scalar(text("SELECT count(*) FROM audit_entry"))
        rejected = conn.scalar(text("SELECT count(*) FROM change WHERE status = 'rejected'"))
        new_title = conn.scalar(text(
            "SELECT count(*) FROM contact JOIN audit_entry a ON a.ref = contact.ref AND a.field = 'title' "
            "WHERE contact.title = 'Maire adjointe chargée des relations internationales'"))
        confirmed = conn.scalar(text("SELECT count(*) FROM campaign_target WHERE confirmed_at IS NOT NULL"))
    engine.dispose()
    assert states == {"approved": 2, "partial": 1}
    assert applied == 4 and rejected == 1 and new_title == 1 and confirmed == 1
    messages = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in (out / "eml").glob("*.eml")]
    subjects = [str(m["Subject"]) for m in messages]
    assert sum("ont été examinées" in s for s in subjects) == 3  # one notice per decided set
    # the campaign's summaries are there to open: both parts, the form, its token in Reply-To
    summaries = [m for m in messages if str(m["Subject"]).startswith("[Atlas 2012] Mise à jour de la fiche de")]
    assert len({str(m["Subject"]) for m in summaries}) == len(summaries) == 8, "one per collectivité of the campaign"
    for message in summaries:
        assert message.get_content_type() == "multipart/alternative"
        form = message.get_body(("plain",)).get_content()
        token = form.split("#### DÉBUT DU FORMULAIRE ATLAS ", 1)[1].split()[0]
        assert f"+{token}@" in str(message["Reply-To"]) and token in message.get_body(("html",)).get_content()
