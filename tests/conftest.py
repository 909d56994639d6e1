from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_project"


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A private copy of sample_project (tests never modify the checkout)."""
    import shutil

    dest = tmp_path / "sample_project"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache", "*.jsonl"))
    return dest


@pytest.fixture
def no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _no_activated_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    """An activated virtualenv in the shell running the tests would be taken for the test projects'
    interpreter (VIRTUAL_ENV comes before .venv/ discovery): tests choose their interpreters."""
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
