"""docs/python.md's example runs as written: its Python blocks, in order, in a fresh interpreter."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_worked_example_runs_as_written(tmp_path, fashion_mnist):
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 5, "the example's four blocks and the ONNX export's"
    script = tmp_path / "example.py"
    script.write_text("import torch\ntorch.set_num_threads(2)\n" + "\n".join(blocks))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "epoch 2: lr" in done.stdout and "exits taken" in done.stdout and "trained on 200 images" in done.stdout
    assert "ONNX Runtime's last exit agrees: True" in done.stdout
    print(done.stdout)
