"""The wheel ships the ready-made tools as `agentkit_tools`, usable from any directory."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out),
        cwd=out)  # fmt: skip
    (built,) = out.glob("agentkit-*.whl")
    return built


def test_the_wheel_holds_agentkit_tools_and_no_top_level_tools(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.startswith("agentkit-")}
    assert tops == {"agentkit", "agentkit_tools"}
    assert "agentkit_tools/calculator.py" in names and "agentkit_tools/web.py" in names
    assert not [n for n in names if "_editable" in n or "__pycache__" in n]
    assert "agentkit/__main__.py" in names


def test_installed_tools_work_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=tmp_path)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
        str(wheel), cwd=tmp_path)  # fmt: skip
    # The dependencies come from this environment's site-packages, whose `.pth` files (the
    # editable install of this checkout among them) are not read from a plain path entry.
    purelib = venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    (purelib / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": "", "HF_HUB_OFFLINE": "1"}
    script = (
        "import agentkit, agentkit_tools.calculator as c\n"
        "import importlib.util as u\n"
        "print(agentkit.__file__); print(c.calculate('17 * 23')); print(u.find_spec('tools'))\n"
    )
    lines = run(str(python), "-c", script, cwd=elsewhere, env=env).splitlines()
    assert lines[0].startswith(str(venv)) and lines[1:] == ["391", "None"]
    schema = run(str(python), "-m", "agentkit", "schema", "calculator", "units", "web",
                 cwd=elsewhere, env=env)  # fmt: skip
    names = [s["function"]["name"] for s in json.loads(schema)]
    assert names == ["calculate", "convert", "fetch_url"]
    command = venv / "bin" / "agentkit"
    assert json.loads(run(str(command), "schema", "clock", cwd=elsewhere, env=env))


def test_the_editable_install_maps_agentkit_tools_onto_tools() -> None:
    import agentkit_tools
    import agentkit_tools.calculator

    shim = Path(agentkit_tools.__file__ or "")
    if shim.parent.parent.name != "_editable":
        pytest.skip("agentkit is not installed in editable mode here")
    tools = shim.parents[2]
    assert tools.name == "tools" and (tools / "_editable") == shim.parents[1]
    assert Path(agentkit_tools.calculator.__file__ or "") == tools / "calculator.py"
