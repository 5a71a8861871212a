"""`mailbot dkim-keygen`: a signing key for the bot's domain, and the DNS record to publish for it."""
from __future__ import annotations

from pathlib import Path

import click

from mailbot.cli.app import main, pass_app
from mailbot.outbound.signing import DkimError, DkimKey, new_private_key, write_private_key, zone_record


@main.command("dkim-keygen")
@click.option("--selector", help="Sélecteur DKIM (par défaut : le réglage dkim_selector).")
@click.option("--domain", help="Domaine de signature (par défaut : dkim_domain, sinon le domaine de from_address).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier de la clé privée (par défaut : le réglage dkim_key, sinon dkim-<sélecteur>.pem).")
@click.option("--force", is_flag=True, help="Remplace un fichier de clé existant par une nouvelle clé.")
@pass_app
def dkim_keygen(app, selector: str | None, domain: str | None, out: Path | None, force: bool) -> None:
    """Crée une clé DKIM (RSA 2048) et affiche l'enregistrement DNS TXT qui en publie la moitié publique.

    Un fichier de clé existant est gardé (son enregistrement est affiché à nouveau), sauf avec --force."""
    values = app.config.values
    selector = selector or values.get("dkim_selector") or "atlas"
    domain = domain or app.config.dkim_signing_domain
    out = out or Path(values.get("dkim_key") or f"dkim-{selector}.pem")
    try:
        if out.exists() and not force:
            pem = out.read_bytes()
            click.echo(f"La clé {out} existe déjà : elle est conservée (--force pour la remplacer).")
        else:
            pem = new_private_key()
            write_private_key(out, pem, overwrite=force)
            click.echo(f"Clé privée écrite dans {out} (lisible par son seul propriétaire).")
        record = zone_record(DkimKey(selector, domain, pem))
    except (DkimError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("Enregistrement DNS à publier (TXT) :")
    click.echo(record)
    click.echo(f"Puis réglez dkim_key = \"{out}\", dkim_selector = \"{selector}\" et dkim_domain = \"{domain}\" "
               "(ou MAILBOT_DKIM_KEY, MAILBOT_DKIM_SELECTOR, MAILBOT_DKIM_DOMAIN).")
