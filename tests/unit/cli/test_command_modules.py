"""The lazy command table covers every command, so `focusflow <command>` always finds it."""

from __future__ import annotations

import subprocess
import sys

from focusflow import cli


def test_every_registered_command_is_in_the_lazy_table() -> None:
    app = cli.load_commands()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert names == set(cli.COMMAND_MODULES)


def test_a_command_imports_only_its_own_module() -> None:
    code = (
        "import sys; import focusflow.cli as c; c.load_commands(['summary', '--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('focusflow.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "focusflow.cli.ingest" in out
    for other in ("operator", "k8s_export", "exporter", "azure"):
        assert f"focusflow.cli.{other}'" not in out


def test_a_lone_loaded_command_keeps_its_name() -> None:
    code = "import sys; sys.argv = ['focusflow', 'validate', '--help']; " \
           "from focusflow.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "focusflow validate" in result.stdout
