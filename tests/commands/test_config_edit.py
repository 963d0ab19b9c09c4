"""`routesh config init|path|edit`, and an empty user routes.yaml that must not lock the user out."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh

from routesh.core.configfile import builtin_text
from routesh.core.paths import user_config_file
from routesh.core.sources import trust

MINI = "routes: {default: {provider: a, model: mini-model}}\nproviders: {a: {type: openai, key: none}}\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def editor(tmp_path: Path, body: str) -> dict[str, str]:
    """$EDITOR set to a small program that edits the file it is given (body: Python, `text` in and out)."""
    script = tmp_path / "ed.py"
    script.write_text(f"import sys\np = sys.argv[1]\ntext = open(p).read()\n{body}\nopen(p, 'w').write(text)\n")
    return {"EDITOR": f"{sys.executable} {script}", "VISUAL": ""}


def test_init_writes_the_builtin_with_its_comments_privately():
    p = routesh("config", "init")
    f = user_config_file()
    assert p.returncode == 0 and str(f) in p.stdout
    assert f.read_text() == builtin_text() and "# routes.yaml, version 1" in f.read_text()
    assert mode(f) == 0o600 and mode(f.parent) == 0o700


def test_init_refuses_to_overwrite_and_force_keeps_a_backup():
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text(MINI)
    p = routesh("config", "init")
    assert p.returncode == 2 and "--force" in p.stderr and f.read_text() == MINI
    p = routesh("config", "init", "--force")
    assert p.returncode == 0 and f.read_text() == builtin_text()
    [bak] = f.parent.glob("routes.yaml.bak-*")
    assert bak.read_text() == MINI and mode(bak) == 0o600 and str(bak) in p.stdout
    f.write_text(MINI + "# second\n")
    assert routesh("config", "init", "--force").returncode == 0
    assert len(list(f.parent.glob("routes.yaml.bak-*"))) == 2  # an older backup is never overwritten


def test_init_to_a_path_and_over_an_empty_file(tmp_path):
    target = tmp_path / "sub" / "r.yaml"
    assert routesh("config", "init", str(target)).returncode == 0 and target.read_text() == builtin_text()
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text("\n")
    assert routesh("config", "init").returncode == 0 and f.read_text() == builtin_text()
    assert not list(f.parent.glob("*.bak-*"))  # nothing worth keeping


def test_path_says_which_file_and_why(tmp_path, isolated_home):
    p = routesh("config", "path")
    assert p.returncode == 0 and p.stdout.splitlines()[0] == "built-in default"
    assert "config init" in p.stdout
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text("routes: [broken\n")  # path reads nothing, so a broken file is still named
    p = routesh("config", "path")
    assert p.returncode == 0 and p.stdout.splitlines()[0] == str(f) and "your own file" in p.stdout
    other = tmp_path / "o.yaml"
    assert routesh("config", "path", env={"ROUTESH_CONFIG": str(other)}).stdout.startswith(f"{other}\n  named by $")
    assert routesh("config", "path", "--config", str(other)).stdout == f"{other}\n  given with --config\n"
    proj = isolated_home / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / "routes.yaml").write_text(MINI)
    p = routesh("config", "path", "--config", str(other))
    assert "not trusted" not in p.stderr  # an explicit --config wins; the project file plays no part
    trust(proj / "routes.yaml")
    import subprocess

    out = subprocess.run([ROUTESH, "config", "path"], cwd=proj, capture_output=True, text=True)
    assert out.stdout.splitlines()[0] == str(proj / "routes.yaml") and "trusted" in out.stdout


def test_edit_saves_a_good_edit(tmp_path):
    p = routesh("config", "edit", env=editor(tmp_path, "text = text.replace('claude-haiku-4-5', 'claude-haiku-9')"))
    f = user_config_file()
    assert p.returncode == 0, p.stderr
    assert "saved" in p.stdout and "claude-haiku-9" in f.read_text() and "# routes.yaml" in f.read_text()
    assert mode(f) == 0o600 and not list(f.parent.glob(".routes.yaml.edit-*"))


def test_edit_keeps_the_previous_file_when_the_edit_is_broken(tmp_path):
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text(MINI)
    p = routesh("config", "edit", env=editor(tmp_path, "text = text.replace('type: openai', 'type: opnai')"))
    assert p.returncode == 2 and f"{f}:2:" in p.stderr and "did you mean 'openai'" in p.stderr
    assert "left as it was" in p.stderr and f.read_text() == MINI
    rejected = f.with_name("routes.yaml.rejected")
    assert "opnai" in rejected.read_text() and str(rejected) in p.stderr  # nothing the user typed is lost
    assert not list(f.parent.glob(".routes.yaml.edit-*"))


@pytest.mark.parametrize(("body", "needle"), [
    ("pass", "no changes"),
    ("text = ''", "the file is empty"),
    ("sys.exit(3)", "exited with 3; nothing was changed"),
])
def test_edit_without_a_usable_result_changes_nothing(tmp_path, body, needle):
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text(MINI)
    p = routesh("config", "edit", env=editor(tmp_path, body))
    assert needle in p.stdout + p.stderr and f.read_text() == MINI
    assert p.returncode == (0 if body == "pass" else 2)


def test_edit_with_a_missing_editor_says_so():
    p = routesh("config", "edit", env={"EDITOR": "no-such-editor-xyz", "VISUAL": ""})
    assert p.returncode == 2 and "cannot run the editor `no-such-editor-xyz`" in p.stderr
    assert not user_config_file().exists()


def test_the_show_recipe_no_longer_bricks_the_install():
    f = user_config_file()
    f.parent.mkdir(parents=True)
    import subprocess

    p = subprocess.run(["sh", "-c", f'"{ROUTESH}" config show > "{f}"'], capture_output=True, text=True)
    assert p.returncode == 0 and "is empty, so the built-in default is shown" in p.stderr
    assert routesh("config", "check").returncode == 0  # what it wrote is a valid routes.yaml
    assert routesh("--dry-run", "/architect x").stdout.startswith("→ architect")


def test_an_empty_user_file_never_locks_out_show_init_doctor_routes():
    f = user_config_file()
    f.parent.mkdir(parents=True)
    f.write_text("")
    show = routesh("config", "show")
    assert show.returncode == 0 and "default_route: default" in show.stdout and "is empty" in show.stderr
    assert routesh("routes").returncode == 0
    doctor = routesh("doctor")
    said = " ".join(doctor.stdout.split())  # the report wraps long lines
    assert doctor.returncode == 1 and "is empty" in said and "routesh config init" in said
    one_shot = routesh("--dry-run", "hi")  # what sends prompts does not guess: the user's file is gone
    assert one_shot.returncode == 2 and "the file is empty" in one_shot.stderr and "config init" in one_shot.stderr
    assert routesh("config", "init").returncode == 0 and f.read_text() == builtin_text()


@pytest.mark.parametrize("argv", [("config", "check"), ("config", "show"), ("routes",), ("keys", "list"),
                                  ("--dry-run", "hi"), ("doctor",), ("config", "path")])
def test_an_untrusted_project_file_is_mentioned_by_every_command(isolated_home, argv):
    import subprocess

    proj = isolated_home / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / "routes.yaml").write_text(MINI)
    p = subprocess.run([ROUTESH, *argv], cwd=proj, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    said = " ".join((p.stdout + p.stderr).split())
    assert "routes.yaml is not trusted, so it is ignored" in said and "config trust routes.yaml" in said, said


def test_what_config_show_prints_loads_back_the_same(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text(MINI + "profiles:\n  w: {allow_providers: [a], budget: {daily_usd: 2.5, on_exceed: downgrade, "
                        "downgrade: default}, providers: {a: {key_env: W_KEY}}}\n"
                        "models: {mini-model: {input: 1, output: 2, context_window: 1000}}\n"
                        "code: {default: default, long_context_threshold: 10}\n")
    first = routesh("config", "show", "--config", str(f))
    copy = tmp_path / "copy.yaml"
    copy.write_text(first.stdout)
    second = routesh("config", "show", "--config", str(copy))
    assert first.returncode == second.returncode == 0
    assert first.stdout.split("\n", 1)[1] == second.stdout.split("\n", 1)[1] and "W_KEY" in first.stdout
