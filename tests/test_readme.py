"""The README's Python example runs (shrunk: 2 steps, lazy dSprites, one metric)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"

# the example as written, and the few edits that make it a seconds-long test
SHRINK = [
    ('steps=5000, seed=0)', 'steps=2, batch_size=4, seed=0, dataset_options={"lazy": True})'),
    ('"runs/bvae"', "RUN_DIR"),
    ('metrics=["mig", "sap", "dci"]', 'metrics=["mig"], options={"mig": {"num_train": 500}}'),
    ('get_dataset("dsprites")', 'get_dataset("dsprites", lazy=True)'),
]


def test_readme_python_example_runs(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python block"
    code = blocks[0]
    for old, new in SHRINK:
        assert old in code, f"README example changed: {old!r} not found; update SHRINK"
        code = code.replace(old, new)
    namespace = {"RUN_DIR": str(tmp_path / "bvae")}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert 0.0 <= namespace["scores"]["mig"] <= 1.0
    assert tuple(namespace["images"].shape) == (16, 1, 64, 64) and namespace["classes"].shape == (16, 6)
