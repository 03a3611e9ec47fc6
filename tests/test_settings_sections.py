"""Settings in sections, and the flat names of earlier versions still working with a warning."""

from __future__ import annotations

import warnings

import pytest

from linguadesk.settings import LEGACY_NAMES, ConfigError, Settings


def _settings(monkeypatch, tmp_path, env: dict[str, str], toml: str = "") -> Settings:
    for key in [k for k in __import__("os").environ if k.startswith("LINGUADESK_")]:
        monkeypatch.delenv(key)
    config = tmp_path / "linguadesk.toml"
    config.write_text(toml, "utf-8")
    monkeypatch.setenv("LINGUADESK_CONFIG", str(config))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def test_sections_come_from_nested_env_and_toml_tables(monkeypatch, tmp_path):
    s = _settings(
        monkeypatch,
        tmp_path,
        {"LINGUADESK_WEB__PORT": "8123", "LINGUADESK_PRESETS__ANSWER__TEMPERATURE": "0.1"},
        '[llm]\nurl = "http://gpu:8000/v1"\n[web]\nport = 9000\n',
    )
    assert s.web.port == 8123, "the environment beats the file"
    assert s.llm.url == "http://gpu:8000/v1" and s.presets.answer.temperature == 0.1
    assert s.presets.answer.max_tokens == 400, "a preset keeps the fields not given"


def test_old_flat_names_still_work_and_warn_with_the_new_name(monkeypatch, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        s = _settings(
            monkeypatch,
            tmp_path,
            {
                "LINGUADESK_WEB_ALLOWED_ORIGINS": '["https://shop.example.com"]',
                "LINGUADESK_PRESET_ANSWER__TEMPERATURE": "0.2",
                "LINGUADESK_LLM_URL": "http://a/v1",
            },
            'min_confidence = 0.7\nhandoff_rate_limit_ip = "5/hour"\n[preset_rewrite]\nmax_tokens = 32\n',
        )
    said = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert any(
        "LINGUADESK_WEB_ALLOWED_ORIGINS is deprecated; use LINGUADESK_WEB__ALLOWED_ORIGINS" in m
        for m in said
    ), said
    assert any("min_confidence is deprecated; use answers.min_confidence" in m for m in said)
    assert s.web.allowed_origins == ["https://shop.example.com"]
    assert s.presets.answer.temperature == 0.2 and s.llm.url == "http://a/v1"
    assert s.answers.min_confidence == 0.7 and s.handoff.rate_limit_ip == "5/hour"
    assert s.presets.rewrite.max_tokens == 32


def test_a_new_name_wins_over_its_old_name(monkeypatch, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        s = _settings(
            monkeypatch,
            tmp_path,
            {"LINGUADESK_WEB_PORT": "1111", "LINGUADESK_WEB__PORT": "2222"},
            'web_host = "0.0.0.0"\n[web]\nhost = "10.0.0.1"\n',
        )
    assert s.web.port == 2222 and s.web.host == "10.0.0.1"


def test_every_old_name_maps_to_an_existing_field():
    for old, (section, field) in LEGACY_NAMES.items():
        assert field in type(getattr(Settings(), section)).model_fields, old


def test_updated_changes_one_field_of_a_section_and_refuses_unknown_names(tmp_path):
    base = Settings(data_dir=tmp_path)
    changed = base.updated({"web.port": 8001, "default_language": "de"})
    assert changed.web.port == 8001 and changed.web.host == base.web.host
    assert changed.default_language == "de" and base.web.port == 8000
    with pytest.raises(ConfigError, match="web_port"):
        base.updated({"web_port": 1})


def test_a_broken_toml_file_is_named(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match="linguadesk.toml"):
        _settings(monkeypatch, tmp_path, {}, "[web\nport = 1\n")
