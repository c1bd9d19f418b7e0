"""Read the Dockerfile and the helm chart the way the packaging tests need them."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
CHART = REPO / "helm" / "ledgergate"
RELEASE = "ledgergate"
NAMESPACE = "payments"


@dataclass
class Stage:
    """One build stage: its instructions in order, as (INSTRUCTION, arguments)."""

    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [rest for name, rest in self.instructions if name == instruction]

    def last(self, instruction: str) -> str:
        found = self.all(instruction)
        assert found, f"stage {self.name} has no {instruction}"
        return found[-1]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for rest in self.all("ENV"):
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


def dockerfile_stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The Dockerfile's stages, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            stages.append(Stage(name=words[-1] if "AS" in (w.upper() for w in words) else ""))
        elif stages:
            stages[-1].instructions.append((instruction, rest.strip()))
    return stages


def load_values(name: str) -> dict[str, Any] | None:
    """`default` (the chart's own values.yaml) or the overrides in `values-<name>.yaml`."""
    if name == "default":
        return None
    loaded: dict[str, Any] = yaml.safe_load((CHART / f"values-{name}.yaml").read_text())
    return loaded


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every manifest of an install, rendered by Helm's own engine (no cluster contacted)."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    return [
        document
        for path, text in sorted(rendered.items())
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]
