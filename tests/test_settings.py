from __future__ import annotations

from linguadesk.settings import Settings


def test_toml_file_and_env_vars(tmp_path, monkeypatch):
    config = tmp_path / "linguadesk.toml"
    config.write_text(
        '[llm]\nurl = "http://gpu-box:8000/v1"\n[retrieval]\nk = 7\n[chroma]\ncollection = "shop"\n'
    )
    monkeypatch.setenv("LINGUADESK_CONFIG", str(config))
    monkeypatch.setenv("LINGUADESK_RETRIEVAL__K", "9")
    monkeypatch.setenv("LINGUADESK_LLM__API_KEY", "sk-secret")
    settings = Settings()
    assert settings.llm.url == "http://gpu-box:8000/v1"
    assert settings.retrieval.k == 9, "environment variables win over the file"
    assert settings.chroma.collection == "shop"
    assert "sk-secret" not in repr(settings)
    assert settings.models_dir == settings.data_dir / "models"
