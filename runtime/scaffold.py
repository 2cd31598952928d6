"""``skewless init``: copy the packaged starter project."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from skewless.compiler.contract import IDENT


def scaffold(directory: Path, name: str | None = None) -> list[Path]:
    name = name or directory.resolve().name.replace("-", "_")
    if not IDENT.match(name):
        name = "project_" + "".join(ch if ch.isalnum() else "_" for ch in name)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty")
    root = resources.files("skewless.runtime") / "templates" / "starter"
    created: list[Path] = []

    def copy(node, dest: Path) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            target = dest / child.name
            if child.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                copy(child, target)
            else:
                target.write_text(child.read_text().replace("{{PROJECT}}", name))
                created.append(target)

    directory.mkdir(parents=True, exist_ok=True)
    copy(root, directory)
    return created
