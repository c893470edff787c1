"""The instrument is a stage runtime: it must import and start without torch installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Makes `import torch` (and anything under it) fail the way it does when torch is absent.
BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys
    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named '{name}'", name=name)
            return None
    sys.meta_path.insert(0, _NoTorch())
    """
)


def _run_without_torch(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_torch_blocker_really_blocks_torch() -> None:
    proc = _run_without_torch("import torch")
    assert proc.returncode != 0 and "No module named 'torch'" in proc.stderr


def test_every_instrument_module_imports_without_torch() -> None:
    proc = _run_without_torch(
        """
        import importlib, pkgutil, sys
        import instrument
        names = [m.name for m in pkgutil.walk_packages(instrument.__path__, "instrument.")]
        for name in names:
            importlib.import_module(name)
        assert "torch" not in sys.modules
        print(len(names) + 1)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 2  # the package and at least its CLI


def test_cli_help_runs_without_torch() -> None:
    proc = _run_without_torch("from instrument.cli import main; raise SystemExit(main(['--help']))")
    assert proc.returncode == 0, proc.stderr
    assert "dataset" in proc.stdout and "train" in proc.stdout


def test_training_command_without_torch_names_the_extra() -> None:
    proc = _run_without_torch("from instrument.cli import main; raise SystemExit(main(['train', '--help']))")
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.strip().splitlines() if line]
    assert len(lines) == 1, proc.stderr
    assert "ganloops[train]" in lines[0] and "torch" in lines[0]


def test_runtime_dependencies_exclude_torch() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [d.split(";")[0].strip().lower() for d in project["dependencies"]]
    assert not any(d.startswith(("torch", "librosa", "matplotlib")) for d in runtime), runtime
    assert any(d.startswith("torch") for d in project["optional-dependencies"]["train"])


def test_the_bundled_default_model_loads_and_plays_a_loop_without_torch() -> None:
    proc = _run_without_torch(
        """
        import sys
        import numpy as np
        from instrument.bundle import load_bundle
        from instrument.play import default_bundles
        bundle = load_bundle(default_bundles()[0], provider="cpu")
        m = bundle.manifest
        audio = bundle.render(np.random.default_rng(0).standard_normal((2, m.z_dim)).astype(np.float32))
        assert audio.shape == (2, m.channels, m.loop_samples), audio.shape
        assert np.isfinite(audio).all() and float(np.sqrt(np.mean(audio ** 2))) > 1e-3
        assert "torch" not in sys.modules
        print(m.family, m.loop_samples)
        """
    )
    assert proc.returncode == 0, proc.stderr
    family, samples = proc.stdout.split()
    assert int(samples) > 0 and family
