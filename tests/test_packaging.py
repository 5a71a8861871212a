"""The package as a ministry installs it: templates and rules shipped inside it, `templates_dir`
overriding them by name, and a wheel built from this tree running `mailbot demo` from elsewhere."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from mailbot import shipped
from mailbot.cli.commands import main
from mailbot.outbound.render import make_environment

ROOT = Path(__file__).resolve().parents[1]


def source_packages() -> set[str]:
    """Every folder of mailbot/ and store/ holding Python code, as a package name."""
    found = set()
    for top in ("mailbot", "store"):
        for path in (ROOT / top).rglob("*.py"):
            if "__pycache__" not in path.parts:
                found.add(".".join(path.parent.relative_to(ROOT).parts))
    return found


def test_every_package_of_the_tree_is_listed_for_the_build():
    """pyproject lists its packages (it maps templates/ and rules/ in): a new one must not be forgotten."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert source_packages() <= listed, sorted(source_packages() - listed)


def test_shipped_templates_and_rules_are_the_top_level_folders():
    names = sorted(p.name for p in shipped.templates().iterdir() if p.name.endswith(".j2"))
    assert names == sorted(p.name for p in (ROOT / "templates").glob("*.j2"))
    assert shipped.rules_file().read_text(encoding="utf-8") == (ROOT / "rules" / "campagne-2012.toml").read_text(
        encoding="utf-8")


def test_templates_dir_overrides_shipped_templates_by_name(tmp_path, store_template):
    """One file in `templates_dir` replaces the shipped template of its name; the others stay."""
    overrides = tmp_path / "mes-modeles"
    overrides.mkdir()
    (overrides / "agent_summary.subject.j2").write_text("Préfecture test — {{ collectivite.code }}\n", encoding="utf-8")
    env = make_environment(str(overrides))
    assert env.get_template("agent_help.subject.j2").render() == make_environment().get_template(
        "agent_help.subject.j2").render()

    store = tmp_path / "atlas.sqlite"
    shutil.copy(make_url(store_template("sqlite", seeded=True)).database, store)
    env_vars = {"MAILBOT_DB": f"sqlite:///{store}", "MAILBOT_TEMPLATES_DIR": str(overrides)}
    runner = CliRunner()
    created = runner.invoke(main, ["campaign", "create", "essai", "--deadline", "2099-06-30"], env=env_vars)
    assert created.exit_code == 0, created.output
    out = tmp_path / "eml"
    sent = runner.invoke(main, ["campaign", "send", "essai", "--limit", "2", "--dry-run", str(out)], env=env_vars)
    assert sent.exit_code == 0, sent.output
    messages = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(out.glob("*.eml"))]
    assert len(messages) == 2
    for message in messages:
        assert str(message["Subject"]).startswith("Préfecture test — ")
        assert "####" in message.get_body(("plain",)).get_content()  # the shipped body, not overridden

    without = runner.invoke(main, ["campaign", "send", "essai", "--limit", "1", "--dry-run", str(tmp_path / "b")],
                            env={"MAILBOT_DB": f"sqlite:///{store}"})
    assert without.exit_code == 0, without.output
    subject = str(BytesParser(policy=policy.default).parsebytes(next((tmp_path / "b").glob("*.eml")).read_bytes())
                  ["Subject"])
    assert not subject.startswith("Préfecture test") and subject.endswith(")")  # the shipped « … (CODE) »


@pytest.mark.slow
def test_a_wheel_built_from_the_tree_runs_the_demo_from_another_directory(tmp_path):
    """`pip wheel .` holds the templates, the rules and every module; installed in a fresh virtual
    environment (dependencies from the system), `mailbot demo` runs from a folder far from the tree."""
    # built from a copy: setuptools leaves build/ and *.egg-info/ behind in the folder it builds
    tree = tmp_path / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "demo-out",
                                                              "*.sqlite*"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("MAILBOT_")}
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(wheels)],
                           capture_output=True, text=True, cwd=tree, env=env)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(wheels.glob("atlas_mailbot-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"mailbot/templates/{p.name}" for p in (ROOT / "templates").glob("*.j2")} <= names
    assert {f"mailbot/shipped_rules/{p.name}" for p in (ROOT / "rules").glob("*.toml")} <= names
    console = ROOT / "mailbot" / "web"  # the console's pages, styles, script and vendored htmx with its licence
    assert {str(p.relative_to(ROOT)) for d in ("templates", "static") for p in (console / d).iterdir()} <= names
    assert "mailbot/cli/locale/click.fr.po" in names  # click's own words in French
    modules = {str(p.relative_to(ROOT)) for top in ("mailbot", "store") for p in (ROOT / top).rglob("*.py")
               if "__pycache__" not in p.parts}
    assert modules <= names, sorted(modules - names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, env=env)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "ailleurs"
    elsewhere.mkdir()
    demo = subprocess.run([str(venv / "bin" / "mailbot"), "demo", "--send", "4"], capture_output=True, text=True,
                          cwd=elsewhere, env=env, timeout=300)
    assert demo.returncode == 0, (demo.stdout[-2000:], demo.stderr[-3000:])
    assert "Traceback" not in demo.stderr
    where = subprocess.run([str(python), "-c", "import mailbot; print(mailbot.__file__)"], capture_output=True,
                           text=True, cwd=elsewhere, env=env)
    assert str(venv) in where.stdout  # the installed copy ran, not this tree
    assert len(list((elsewhere / "demo-out" / "eml").glob("*.eml"))) >= 4
