"""Review commands (read-only here): list and show pending change sets."""
from __future__ import annotations

import click

from mailbot.cli import emit_json, main, pass_app
from store.review_queries import get_changeset, list_changesets


@main.group()
def review() -> None:
    """The reviewers' queue of change sets."""


@review.command("list")
@click.option("--status", default="pending", show_default=True,
              type=click.Choice(["pending", "approved", "rejected", "partial", "superseded", "all"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def list_cmd(app, status: str, limit: int, page: int, as_json: bool) -> None:
    """Change sets, oldest first."""
    app.require_store()
    with app.sessions() as session:
        rows = list_changesets(session, status=None if status == "all" else status, limit=limit,
                               offset=(page - 1) * limit)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        errors = sum(1 for c in row["changes"] if c["errors"])
        trust = "" if row["trusted"] else "  [expéditeur non reconnu]"
        click.echo(f"#{row['id']:<6} {row['collectivite']:<16} {row['status']:<10} {len(row['changes'])} change(s), "
                   f"{errors} with errors  {row['sender']}{trust}")


@review.command("show")
@click.argument("changeset_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def show_cmd(app, changeset_id: int, as_json: bool) -> None:
    """One change set: each change as before → after, with errors and fuzzy matches."""
    app.require_store()
    with app.sessions() as session:
        row = get_changeset(session, changeset_id)
    if row is None:
        raise click.ClickException(f"no change set #{changeset_id}")
    if as_json:
        emit_json(row)
        return
    click.echo(f"Change set #{row['id']} — {row['collectivite']} — {row['status']}")
    click.echo(f"From: {row['sender']}{'' if row['trusted'] else '  (expéditeur non reconnu)'}")
    if row["note"]:
        click.echo(f"Note: {row['note']}")
    for c in row["changes"]:
        where = f"{c['entity']} {c['ref']}" + (f".{c['field']}" if c["field"] else "")
        click.echo(f"  [{c['id']}] {c['op']:<6} {where}: {c['old']!r} → {c['new']!r}")
        for m in c["matches"]:
            click.echo(f"         « {m['written']} » → « {m['label']} » ({m['score']:.0f})")
        for e in c["errors"]:
            click.echo(f"         ERREUR {e['code']}: {e['message']}")
