"""`mailbot demo`: the whole product on embedded defaults, step by step, in ./demo-out/."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import click

from mailbot.cli import main
from mailbot.config import load_config

DEMO_SCALE = 0.05
DEMO_CAMPAIGN = "campagne-2012"


def step(number: int, text: str) -> None:
    click.secho(f"\n== {number}. {text}", fg="cyan", bold=True)


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Where the demo store and mail go (emptied first).")
@click.option("--scale", type=click.FloatRange(0.01, 1.0), default=DEMO_SCALE, show_default=True)
@click.option("--send", "send_count", type=click.IntRange(1, 500), default=8, show_default=True,
              help="How many collectivités receive their summary in the demo.")
def demo(out_dir: Path, scale: float, send_count: int) -> None:
    """Seed a local Atlas, send a small campaign to a local SMTP sink, show the result."""
    from mailbot.campaign import create_campaign, render_campaign
    from mailbot.delivery import deliver_pending
    from mailbot.sink import start_sink
    from store import queries
    from store.db import make_engine, session_factory, upgrade
    from store.seed import seed_atlas

    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    db_url = f"sqlite:///{out_dir / 'atlas.sqlite'}"
    controller, sink = start_sink(directory=out_dir / "eml")
    config = load_config(environ={"MAILBOT_DB": db_url, "MAILBOT_SMTP": f"smtp://127.0.0.1:{controller.port}"})
    try:
        step(1, f"A local Atlas (SQLite {out_dir / 'atlas.sqlite'}) seeded at scale {scale}")
        engine = make_engine(db_url)
        upgrade(engine)
        seed_atlas(engine, scale=scale, seed=2012)
        sessions = session_factory(engine)
        with sessions() as session:
            figures = queries.atlas_stats(session)
        for key, value in figures.items():
            click.echo(f"   {key:<22} {value:>7}")

        step(2, f"Campaign {DEMO_CAMPAIGN} (rules/campagne-2012.toml), sent to {send_count} collectivités")
        rules = Path(__file__).resolve().parents[2] / "rules" / "campagne-2012.toml"
        with sessions.begin() as session:
            create_campaign(session, DEMO_CAMPAIGN, rules, date(2012, 6, 30))
        rendered = render_campaign(engine, sessions, config, DEMO_CAMPAIGN, limit=send_count)
        report = deliver_pending(engine, config)
        click.echo(f"   {rendered.rendered} summaries rendered, {report.sent} envelopes accepted by the local "
                   f"SMTP sink on port {controller.port}")
        click.echo(f"   open them in a mail client: {out_dir / 'eml'}/*.eml")

        step(3, "One summary, as the agent reads it (text part, first lines)")
        first = sorted((out_dir / "eml").glob("*.eml"))[0]
        _print_text_part(first.read_bytes())
    finally:
        controller.stop()
    click.secho(f"\nDone. Store: {db_url}", fg="green")


def _print_text_part(raw: bytes, lines: int = 60) -> None:
    from email import policy
    from email.parser import BytesParser

    message = BytesParser(policy=policy.default).parsebytes(raw)
    click.echo(f"   Subject: {message['Subject']}")
    click.echo(f"   Reply-To: {message['Reply-To']}")
    body = message.get_body(("plain",)).get_content().splitlines()
    for line in body[:lines]:
        click.echo(f"   | {line}")
    if len(body) > lines:
        click.echo(f"   | … ({len(body) - lines} more lines)")
