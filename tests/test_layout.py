"""The house plan: the packages around the library use its public names only, and it holds no training code."""

import ast
import importlib
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# modules whose __all__ is the library's API
PUBLIC = ("lasso", "lasso.models", "lasso.metrics", "lasso.valset", "lasso.benchmark_set")
CLIENTS = ("train", "evaluate", "benchmarks", "app", "api")


def _lasso_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of a lasso module in a file, at any depth (lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lasso":
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "lasso"]
    return found


def _client_files() -> list[Path]:
    return sorted(p for pkg in CLIENTS for p in (REPO / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", _client_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_clients_import_public_names_only(path):
    exported = {m: set(importlib.import_module(m).__all__) for m in PUBLIC}
    for line, module, names in _lasso_imports(path):
        where = f"{path.relative_to(REPO)}:{line}"
        assert module in PUBLIC, f"{where} imports {module}; use a public module: {', '.join(PUBLIC)}"
        private = [n for n in names if n not in exported[module]]
        assert not private, f"{where} imports {private} from {module}, which does not export them (__all__)"


def test_the_library_holds_no_training_code():
    assert not (REPO / "lasso" / "data").exists()
    for path in (REPO / "lasso").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"train", "evaluate", "app", "api", "hydra", "omegaconf"}, path


def test_documents_named_in_the_code_exist():
    named = {(path, m) for pkg in ("lasso", *CLIENTS) for path in (REPO / pkg).rglob("*.py")
             for m in re.findall(r"\b((?:[\w-]+/)+[\w-]+\.md)\b", path.read_text())}
    # `../shared/...` names the shared folder beside the checkout
    missing = [f"{p.relative_to(REPO)}: {m}" for p, m in named
               if not (REPO / m).exists() and not (m.startswith("shared/") and (REPO.parent / m).exists())]
    assert not missing, missing


def test_packaged_data_globs_match_files():
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for package, globs in package_data.items():
        for pattern in globs:
            assert list((REPO / package).glob(pattern)), f"{package}/{pattern} matches nothing"


def test_data_config_paths_mean_the_working_directory(tmp_path, monkeypatch):
    """configs/data says relative paths resolve against the working directory: prepare_data does what train does."""
    from train.prepare_data import _path

    monkeypatch.chdir(tmp_path)
    assert _path("data/corpus") == tmp_path / "data" / "corpus"
    assert "working directory" in (REPO / "configs" / "data" / "default.yaml").read_text().splitlines()[0]
