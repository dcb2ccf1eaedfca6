"""The README's results table is generated from metrics/results.json and must match it."""

import json

import pytest

from posenc.reporting.stats import proportion_interval
from posenc.reporting.tables import END, START, results_markdown, sync_readme

from conftest import ROOT


def fake_results():
    return {
        "headline_task": "copy",
        "tasks": {"copy": {"rope": {"acc_256": 0.995, "acc_1024": 0.5, "exact_256": 0.9, "exact_1024": 0.0,
                                    "train_steps": 700, "solved": True},
                           "learned": {"acc_256": 0.42, "acc_1024": float("nan"), "exact_256": 0.0,
                                       "exact_1024": 0.0, "train_steps": 3000, "solved": False}}},
    }


def test_table_reflects_the_numbers():
    md = results_markdown(fake_results())
    assert "| rope | 99.5 % | 50.0 % | 90.0 % | 0.0 % | 700 | yes |" in md
    assert "| learned | 42.0 % | NaN | 0.0 % | 0.0 % | 3000 | **no** |" in md
    assert "**copy** (headline task)" in md


def test_sync_replaces_only_the_marked_block():
    readme = f"intro\n{START}\nstale table\n{END}\noutro\n"
    out = sync_readme(readme, fake_results())
    assert out.startswith("intro\n") and out.endswith(f"{END}\noutro\n")
    assert "stale table" not in out and "| rope |" in out
    with pytest.raises(ValueError):
        sync_readme("no markers", fake_results())


def test_committed_readme_matches_committed_results():
    path = ROOT / "metrics" / "results.json"
    if not path.exists():
        pytest.skip("no committed results yet")
    readme = (ROOT / "README.md").read_text()
    assert sync_readme(readme, json.loads(path.read_text())) == readme, "README table is stale: run `make readme`"


def fake_imdb_results():
    res = fake_results()
    res["imdb"] = {"rope": {"acc_256": 0.84, "acc_512": 0.86, "f1_256": 0.83, "f1_512": 0.85,
                            "loss_256": 0.41, "loss_512": float("nan"), "best_epoch": 3, "train_steps": 10}}
    cell = {"acc": 0.5, "f1": 0.5, "loss": 0.7, "n": 7}
    res["imdb_buckets"] = {"rope": {L: {"<=256": dict(cell, acc=0.9, n=5), "257-512": dict(cell, acc=0.7 if L == "256" else 0.8),
                                        ">512": dict(cell, n=2)} for L in ("256", "512")}}
    return res


def test_imdb_tables_reflect_the_numbers():
    md = results_markdown(fake_imdb_results())
    assert "| rope | 84.0 % | 86.0 % | 83.0 % | 85.0 % | 0.410 | NaN | 3 |" in md
    # buckets in length order; '<=256' only once (a longer L does not change its inputs)
    assert "| PE | <=256 (n=5) @256 | 257-512 (n=7) @256 | 257-512 (n=7) @512 | >512 (n=2) @256 | >512 (n=2) @512 |" in md
    assert "| rope | 90.0 % | 70.0 % | 80.0 % | 50.0 % | 50.0 % |" in md
    assert "IMDb" not in results_markdown(fake_results())
    # no intervals per bucket: the caption gives the noise of the smallest one (2 reviews at 50 %: Wilson)
    lo, hi = proportion_interval(1, 2)
    assert (f"for the 2 reviews of >512 tokens, an accuracy of 50.0 % has the 95 % Wilson interval "
            f"[{100 * lo:.1f}, {100 * hi:.1f}]: these columns describe, they do not rank") in md


def test_the_tables_say_how_many_seeds_and_which_interval():
    res = fake_imdb_results()
    assert not results_markdown(res).startswith("Mean over")  # no interval recorded: nothing claimed about one
    res.update(seeds=[0, 1, 2], interval="t over seeds")
    md = results_markdown(res)
    assert md.startswith("Mean over 3 seeds [95 % interval: t over seeds].")
    assert "mean over 3 seeds [95 % interval])" in md
    res["seeds"] = [0]
    assert "mean over 1 seed [95 % interval])" in results_markdown(res)
