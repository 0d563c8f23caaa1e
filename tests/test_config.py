"""Settings: PLUMM_ variables, .env files and flags, validated once with clear messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import ConfigError, load_settings

PLUMM = str(Path(sys.executable).parent / "plumm")


def test_defaults_use_sqlite_under_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(data_dir=tmp_path / "var")
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'var' / 'plumm.db').resolve()}"
    assert settings.intake_addresses == ["hello@heyplumm.com"]
    assert settings.smtp_port == 8025 and settings.max_message_bytes == 25 * 1024 * 1024
    assert settings.relay is None and settings.outbox_dir == tmp_path / "var" / "outbox"


def test_environment_variables_are_read_and_lists_split_on_commas(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLUMM_INTAKE_ADDRESSES", "Hello@HeyPlumm.com, intake@heyplumm.com")
    monkeypatch.setenv("PLUMM_OUTBOUND_SMTP", "relay.example:2525")
    monkeypatch.setenv("PLUMM_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    settings = load_settings()
    assert settings.intake_addresses == ["hello@heyplumm.com", "intake@heyplumm.com"]
    assert settings.relay == ("relay.example", 2525)
    assert settings.effective_database_url.startswith("postgresql+psycopg://")


def test_dotenv_file_is_read_and_flags_override_it(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("PLUMM_SMTP_PORT=2600\nPLUMM_MAX_MESSAGE_BYTES=4096\n")
    assert load_settings().smtp_port == 2600
    assert load_settings(smtp_port=2700).smtp_port == 2700


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PLUMM_SMTP_PORT", "not-a-port"),
        ("PLUMM_SMTP_PORT", "70000"),
        ("PLUMM_INTAKE_ADDRESSES", "no-at-sign"),
        ("PLUMM_DATABASE_URL", "mysql://root@localhost/db"),
        ("PLUMM_OUTBOUND_SMTP", "relay-without-port"),
        ("PLUMM_MAX_MESSAGE_BYTES", "-1"),
    ],
)
def test_a_bad_value_fails_with_a_message_naming_the_variable(monkeypatch, tmp_path, variable, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert variable in str(error.value)


def test_the_cli_refuses_to_start_on_a_bad_value(tmp_path):
    result = subprocess.run(
        [PLUMM, "serve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PLUMM_SMTP_PORT": "abc"},
    )
    assert result.returncode == 2
    assert "PLUMM_SMTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_refuses_to_start_on_a_broken_rules_file(tmp_path):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parent.parent / "rules", rules)
    (rules / "sections.yaml").write_text("sections: [\n")
    result = subprocess.run(
        [PLUMM, "--rules-dir", str(rules), "worker", "--once"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PLUMM_DATA_DIR": str(tmp_path / "var")},
    )
    assert result.returncode == 2
    assert "sections.yaml" in result.stderr and "Traceback" not in result.stderr
