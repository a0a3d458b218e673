pytest_plugins = ["pytester"]


import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def shards(tmp_path_factory):
    """The smoke grid run by the numpy adapter as two shards: their two results documents, for
    the tests that read documents back (merge, the gate, their fuzz)."""
    from harness.cli import main

    smoke = str(Path(__file__).resolve().parent.parent / "cases" / "smoke.yaml")
    tmp = tmp_path_factory.mktemp("shards")
    for k in (1, 2):
        assert main(["run", smoke, "--frameworks", "numpy", "--shard", f"{k}/2",
                     "--out", str(tmp / f"s{k}")]) == 0
    return [json.loads((tmp / f"s{k}" / "results.json").read_text()) for k in (1, 2)]
