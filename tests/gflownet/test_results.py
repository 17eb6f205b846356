"""The committed headline results (``reference/gflownet/results``): structure, provenance,
and the table recomputed from the per-seed values."""

import itertools
import re

import numpy as np
import pytest

from reference.gflownet import experiments, plots

NAMES = ("headline", "headline-nooffline", "long")


@pytest.fixture(scope="module", params=NAMES)
def committed(request):
    doc = experiments.load_results(request.param)
    assert doc is not None, f"results/{request.param}.json is missing"
    return request.param, doc


def test_files_are_small():
    for path in experiments.RESULTS.iterdir():
        assert path.stat().st_size < 200_000, path.name


def test_structure_and_provenance(committed):
    name, doc = committed
    assert set(doc) == {"provenance", "config", "runs", "attainability", "target"}
    prov = doc["provenance"]
    assert prov["command"].startswith("python -m reference gflownet")
    assert re.fullmatch(r"[0-9a-f]{40}", prov["commit"]) and prov["wall_seconds"] > 0
    c = doc["config"]
    # one run per (alpha, seed, method), nothing else
    expected = set(itertools.product(c["methods"], c["alphas"], c["seeds"]))
    got = [(r["method"], r["alpha"], r["seed"]) for r in doc["runs"]]
    assert len(got) == len(set(got)) and set(got) == expected
    assert doc["target"]["num_modes"] == 335
    assert set(doc["attainability"]) == {str(a) for a in c["alphas"]}
    for r in doc["runs"]:
        f, curve = r["final"], r["curve"]
        assert set(f) == set(experiments.FINAL_KEYS)
        assert curve["step"] == list(range(0, c["iterations"] + 1, c["eval_every"]))
        for m in experiments.REPORTED:  # the curve ends at the final evaluation
            assert len(curve[m]) == len(curve["step"]) and curve[m][-1] == f[m]
        assert 0.0 <= f["l1"] <= 2.0 and 0 <= f["modes_found"] <= 335
        if r["method"] == "sdb":
            assert 0.0 < r["dynamics_kl_to_true_kernel"] < 0.05
        else:
            assert "dynamics_kl_to_true_kernel" not in r
    if name.startswith("headline"):
        assert c["full"] and len(c["seeds"]) == 3 and c["iterations"] == 2500
        assert c["alphas"] == [0.1, 0.25] and c["hidden"] == 256
    assert c["batch_offline"] == (0 if name == "headline-nooffline" else 16)


def test_table_is_recomputed_from_the_seeds(committed):
    name, doc = committed
    summary = experiments.summarize(doc["runs"])
    md = experiments.results_markdown(doc)
    assert md == (experiments.RESULTS / f"{name}.md").read_text(encoding="utf-8")
    rows = {tuple(cells[:2]): cells[3:]
            for line in md.splitlines() if line.startswith("| 0.")
            for cells in [[x.strip() for x in line.strip("|").split("|")]]}  # fmt: skip
    for alpha, by_method in summary.items():
        for method, vals in by_method.items():
            for col, cell in zip(experiments.RESULT_COLUMNS, rows[(alpha, method)], strict=True):
                v = np.asarray(vals[col])
                seeds = [r["final"][col] for r in doc["runs"]
                         if (str(r["alpha"]), r["method"]) == (alpha, method)]  # fmt: skip
                assert sorted(v.tolist()) == sorted(seeds)
                text = f"{v.mean():.3f} ± {v.std():.3f}" if v.size > 1 else f"{v[0]:.3f}"
                assert cell == text


def test_yardstick():
    doc = experiments.load_results("yardstick")
    assert {"command", "commit", "date", "note"} <= set(doc["provenance"])
    for c in doc["curves"]:
        assert c["step"][0] == 0 and c["step"][-1] == c["iterations"]
        assert len(c["l1"]) == len(c["step"]) and 0.0 < min(c["l1"]) < c["l1"][0] <= 2.0


def test_compact_results_needs_provenance():
    with pytest.raises(ValueError, match="provenance"):
        experiments.compact_results({"runs": []}, {"command": "x"})


def test_alpha_bars_renders_and_checks():
    doc = experiments.load_results("headline")
    summary = experiments.summarize(doc["runs"])
    fig = plots.alpha_bars(summary, floors={"l1": {"supervised fit": 0.3}})
    assert len(fig.axes) == 4
    with pytest.raises(ValueError, match="no 'nope'"):
        plots.alpha_bars(summary, metrics=("nope",))
    with pytest.raises(ValueError, match="summary"):
        plots.alpha_bars({})
