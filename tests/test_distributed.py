"""Training beyond one device: torchrun with 2 CPU processes (gloo) trains, keeps ranks in step, resumes."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TORCHRUN = Path(sys.executable).with_name("torchrun")


def _torchrun(*args, timeout=240) -> tuple[int, str]:
    """Run torchrun with 2 ranks; on a time-out the whole process group goes (no orphaned ranks)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}
    cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", *map(str, args)]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(f"torchrun did not finish in {timeout} s:\n{out[-2000:]}")
    return p.returncode, out


@pytest.mark.slow
def test_two_cpu_ranks_average_gradients_stay_in_step_and_resume(tmp_path):
    if not TORCHRUN.exists():
        pytest.skip("torchrun is not beside this Python")
    rc, out = _torchrun(HERE / "ddp_probe.py", tmp_path, 2)
    assert rc == 0, out[-2000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert all(x["grad"] == [1.5, 1.5, 1.5] for x in ranks)  # the mean of 1 and 2
    assert all(x["vote"] for x in ranks)  # rank 1 said yes: both hear it
    assert ranks[0]["G"] == ranks[1]["G"]  # same weights after stepping with averaged gradients
    assert ranks[0]["step"] == 2 and ranks[0]["images"] == 2 * 4 * 2  # the schedule counts both ranks' images
    assert (tmp_path / "run" / "checkpoint.pt").exists()

    rc, out = _torchrun(HERE / "ddp_probe.py", tmp_path, 4)  # a second launch resumes from rank 0's checkpoint
    assert rc == 0, out[-2000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    assert [x["step"] for x in ranks] == [4, 4] and ranks[0]["G"] == ranks[1]["G"]
    import torch

    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and state["images"] == 4 * 4 * 2
