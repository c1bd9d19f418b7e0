"""The composition root builds real backends without loading a sandbox, and names the
backends that would run as a sandbox private to the process."""

import subprocess
import sys

from app.backends import private_sandboxes
from core.settings import Settings
from tests.support.sandbox_processes import REPO_ROOT, UNREACHABLE_URLS

NO_SANDBOX_LOADED = """
import asyncio, sys
from app.backends import build_backends
from app.main import create_app
from core.settings import Settings

settings = Settings(environment="test", seed_demo_data=False)
backends = build_backends(settings)
create_app(settings, backends=backends)
asyncio.run(backends.aclose())
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "sandboxes")
assert not loaded, loaded
"""


def test_a_gateway_with_every_backend_url_loads_no_sandbox() -> None:
    env = {"PATH": "", **UNREACHABLE_URLS}
    completed = subprocess.run(
        [sys.executable, "-c", NO_SANDBOX_LOADED],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_the_backends_without_a_url_are_private_sandboxes() -> None:
    settings = Settings(environment="test", erp={"url": "http://erp.example/api/v1.0"})  # type: ignore[arg-type]
    assert private_sandboxes(settings) == ["billing", "crm", "support"]
