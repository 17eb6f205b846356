"""``python -m reference gflownet --fast`` writes its outputs; experiment helpers."""

import json

import numpy as np
import pytest

from reference.__main__ import main
from reference.gflownet import experiments


def test_help_lists_gflownet(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "gflownet" in capsys.readouterr().out


def test_gflownet_fast_writes_its_outputs(tmp_path, run_cli):
    out = run_cli("gflownet", "--fast", "--no-progress", "--out", tmp_path)
    assert "toy (R 1:2, alpha 0.5)" in out and "| alpha | method |" in out
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["config"]["fast"] is True
    methods = set(doc["config"]["methods"])
    assert {r["method"] for r in doc["runs"]} == methods
    for r in doc["runs"]:
        f = r["final"]
        assert 0.0 <= f["l1"] <= 2.0 and 0.0 < f["entropy_ratio"] < 1.1
        assert 0 <= f["modes_found"] <= doc["target"]["num_modes"] == 335
        assert r["curve"]["step"][0] == 0 and r["curve"]["step"][-1] == doc["config"]["iterations"]
    assert doc["attainability"]["0.1"]["violated_fraction"] == pytest.approx(0.014, abs=0.002)
    for name in doc["figures"]:
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "table.md").read_text().startswith("| alpha | method |")


def test_toy_stochastic_db_finds_one_third():
    """The source paper's motivating example: SDB realizes (1/3, 2/3); the tree baseline
    that ignores the sticky actions learns pi = (1/3, 2/3) and realizes about (5/12, 7/12)."""
    toy = experiments.run_toy(methods=("sdb", "tb"), iterations=300)
    assert toy["target"] == pytest.approx([1 / 3, 2 / 3])
    assert toy["sdb"][0] == pytest.approx(1 / 3, abs=0.03)
    assert toy["tb"][0] == pytest.approx(5 / 12, abs=0.03)


def test_summary_and_table():
    runs = [
        {
            "method": m,
            "alpha": 0.1,
            "seed": s,
            "final": {k: float(s + i) for k in experiments.REPORTED},
        }  # fmt: skip
        for s in range(2)
        for i, m in enumerate(("sdb", "db"))
    ]
    summary = experiments.summarize(runs)
    assert summary["0.1"]["db"]["l1"] == [1.0, 2.0]
    table = experiments.table_markdown(summary, {"0.1": {"l1_deconvolved": 0.5}})
    assert "| 0.1 | db | 2 | 1.500 ± 0.500 |" in table and "0.500" in table
    with pytest.raises(ValueError, match="fast, full"):
        experiments.headline_config(fast=True, full=True)
    assert np.isclose(experiments.headline_config(full=True).iterations, 2500)


def test_method_labels():
    assert experiments.method_settings("db-intended") == {"method": "db", "actions": "intended"}
    assert experiments.method_settings("tb") == {"method": "tb", "actions": "realized"}
    assert experiments.method_settings("sdb-known")["dynamics"] == "known"
    with pytest.raises(ValueError, match="method"):
        experiments.method_settings("tb-known")


def test_supervised_yardstick_lowers_the_exact_l1():
    curve = experiments.fit_target_policy(0.25, iterations=40, hidden=32, eval_every=40)
    assert curve["step"] == [0, 40] and curve["l1"][1] < curve["l1"][0] - 0.05
