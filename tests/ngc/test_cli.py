"""``python -m reference ngc --fast``: circuit check, the four agents, files written."""

import json


def test_cli_fast(run_cli, tmp_path):
    out = run_cli("ngc", "--fast", "--out", tmp_path, "--no-progress", timeout=120)
    assert "NGC circuit vs ngc-learn (numba): max abs error" in out
    for line in out.splitlines():
        if line.startswith("NGC circuit vs ngc-learn"):
            assert float(line.rsplit(" ", 1)[1]) <= 1e-10
    for agent in ("ANGC", "ANGC, no epistemic term", "DQN (backprop)", "random"):
        assert f"| {agent} | 1 | 3 |" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["episodes"] == {"CartPole-v1": 3}
    runs = json.loads((tmp_path / "cartpole.json").read_text())
    assert len(runs["ANGC"][0]["returns"]) == 3
    assert "epistemic" in runs["ANGC"][0]["diag_mean"]
    assert (tmp_path / "cartpole.png").stat().st_size > 0
    # a second call reuses the cached runs
    again = run_cli("ngc", "--fast", "--out", tmp_path, "--no-progress", timeout=120)
    assert again.count("| ANGC |") == 1


def test_cli_rejects_fast_and_full(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "reference", "ngc", "--fast", "--full", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "choose one" in proc.stderr
