"""The research reports' arithmetic (scripts/research_bn_statistics.py, scripts/research_mnist_budget.py): a mean
is over the classes both sides have, a budget's mean waits for all its classes, and a pending cell says so."""
import pytest

from scripts import research_bn_statistics as bn
from scripts import research_mnist_budget as budget


def test_before_and_after_compare_only_the_classes_both_sides_ran():
    before = {"maesi-3pt": {"0": 0.40, "1": 0.60, "2": 0.50}, "pca": {"0": 0.45, "1": 0.5, "2": 0.5}}
    after = {"maesi-3pt": {"0": 0.50, "1": 0.70}, "pca": {"0": 0.45, "1": 0.5}, "pyod-iforest": {"0": 0.6, "1": 0.6},
             "maesi-2pt": {"0": 0.99, "1": 0.99}}
    c = bn.compare(before, after, {"0": 0.99, "1": 0.97, "2": 0.91})
    assert c["classes_both"] == ["0", "1"]
    assert c["mean_before"] == pytest.approx(0.50) and c["mean_after"] == pytest.approx(0.60)
    assert c["peer"] == "pyod-iforest" and c["mean_peer"] == pytest.approx(0.6)  # another maesi row is no peer
    assert c["mean_paper"] == pytest.approx(0.98)
    text = bn.markdown(c)
    assert "| 2 | 0.5000 | not re-run yet |" in text
    assert "the 2 classes re-run so far (0, 1)" in text and "+0.1000" in text


def _cells(values: dict) -> dict:
    return {key: {"auc": v, "n_train": 5000, "seconds": 1.0, "health": "ok"} for key, v in values.items()}


def test_a_budget_mean_waits_for_every_class_and_the_answer_names_what_is_pending():
    done = _cells({("maesi-3pt", k): v for k, v in zip(budget.CLASSES, (0.3, 0.6, 0.9))}
                  | {("pyod-lof", k): 0.7 for k in budget.CLASSES})
    partial = _cells({("maesi-3pt", "1"): 0.5})
    runs = [{"size": 5000, "preset": "mnist_small", "cells": done},
            {"size": 10000, "preset": "mnist_small", "cells": partial},
            {"size": 20000, "preset": "mnist_small", "cells": {}},
            {"size": 60000, "preset": "mnist_small", "cells": {}},
            {"size": 5000, "preset": "mnist", "cells": {}}]
    data = {"runs": runs, "paper": {"1": 0.982, "7": 0.974, "9": 0.899}, "reported_5k": {}}
    assert budget._mean(done, "maesi-3pt") == pytest.approx(0.6)
    assert budget._mean(partial, "maesi-3pt") is None
    text = budget.markdown(data)
    assert "| 10k | `mnist_small` | `maesi-3pt` | 0.5000 | pending | pending | pending |" in text
    answer = "\n".join(budget.answer(data))
    assert "5k **0.6000**" in answer and "10k, 20k, all" in answer and "the full width at 5k" in answer
    assert "LOF at 5k: 0.7000" in answer


def test_the_demo_class_is_the_best_development_auc_and_needs_every_class(tmp_path):
    """scripts/make_checkpoints.demo_mnist_class: read from the development partition's rows only (validation
    seeds), the best maesi-3pt AUC, ties to the smaller class; a grid that has not run every class stops."""
    from scripts.make_checkpoints import demo_mnist_class

    path = tmp_path / "mnist.csv"
    rows = ["dataset,anomaly_class,method,seed,metric,value"]
    for k in range(10):
        rows.append(f"mnist,{k},maesi-3pt,100,auc,{0.5 + (0.3 if k in (4, 6) else 0.01 * k)}")
        rows.append(f"mnist,{k},pyod-lof,100,auc,0.99")  # a peer's figure never decides
        rows.append(f"mnist,{k},maesi-3pt,100,ap,0.99")
        rows.append(f"mnist,{k},maesi-3pt,0,auc,{0.99 if k == 8 else 0.1}")  # a reported seed never decides
    path.write_text("\n".join(rows) + "\n")
    assert demo_mnist_class(path) == 4
    path.write_text("\n".join(r for r in rows if not r.startswith("mnist,9,maesi-3pt,100,auc")) + "\n")
    with pytest.raises(SystemExit, match="every MNIST class"):
        demo_mnist_class(path)


def test_make_checkpoints_never_ships_an_interrupted_training(tmp_path):
    """A SIGTERM saves the weights so far as `interrupted`: make_checkpoints refuses such a model (its health may
    still read ok), and a sidecar older than the field counts as completed."""
    import json

    from scripts.make_checkpoints import check

    meta = {"health": {"verdict": "ok"}, "metrics": {}}
    for status, refused in (("interrupted", True), ("stopped", True), ("completed", False), (None, False)):
        (tmp_path / "m.json").write_text(json.dumps(meta | ({"training_status": status} if status else {})))
        why = check("m", tmp_path)
        assert (why == f"training {status}") if refused else why is None


def test_the_cross_check_tells_the_data_from_the_training_code():
    five = {"cells": _cells({("maesi-3pt", "1"): 0.30, ("pyod-lof", "1"): 0.66, ("maesi-3pt", "7"): 0.50,
                             ("pyod-lof", "7"): 0.89})}
    same = [("maesi-3pt", "1"), ("pyod-lof", "1"), ("maesi-3pt", "7"), ("pyod-lof", "7")]
    data = {"reported_5k": {("maesi-3pt", "1"): 0.29, ("pyod-lof", "1"): 0.66, ("maesi-3pt", "7"): 0.56,
                            ("pyod-lof", "7"): 0.89},
            "dates": {"reported": "2026-11-29", "budget": "2026-12-07"}}
    text = budget.cross_check(five, data, same)
    assert "`maesi-3pt` differs by at most 0.0600" in text and "`pyod-lof` differs by at most 0.0000" in text
    assert "comes from the code" in text and "2026-11-29" in text
    data["reported_5k"][("pyod-lof", "7")] = 0.80  # the deterministic peer moved: the data differ, no such claim
    assert "comes from the code" not in budget.cross_check(five, data, same)
    assert budget.code_sensitivity(five, data) == (pytest.approx(0.06), "7")
    data["reported_5k"] = {key: five["cells"][key]["auc"] for key in same}  # re-run with today's code: they repeat
    assert "Every cell repeats to four decimals" in budget.cross_check(five, data, same)
    assert budget.code_sensitivity(five, data) is None


def test_the_papers_budget_on_a_gpu_shows_the_classes_it_ran_and_no_mean(tmp_path):
    runs = [{"size": s, "preset": p, "cells": {}} for s, p in ((5000, "mnist_small"), (10000, "mnist_small"),
                                                               (20000, "mnist_small"), (60000, "mnist_small"),
                                                               (5000, "mnist"))]
    data = {"runs": runs, "paper": {"1": 0.982, "7": 0.974, "9": 0.899}, "reported_5k": {},
            "gpu": {"auc": {"1": 0.1075}, "day": "2026-12-04"}}
    text = budget.markdown(data)
    assert "the paper's budget, on a lent GPU (`results/gpu/mnist.md`) | `maesi-3pt` | 0.1075 | not run | not run | " \
           "not run |" in text
    budget.plot(data, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0


def test_a_partial_budget_names_its_finished_classes_and_what_its_mean_waits_for():
    done = _cells({("maesi-3pt", k): v for k, v in zip(budget.CLASSES, (0.3, 0.6, 0.9))})
    runs = [{"size": 5000, "preset": "mnist_small", "cells": done},
            {"size": 10000, "preset": "mnist_small", "cells": done},
            {"size": 20000, "preset": "mnist_small", "cells": done},
            {"size": 60000, "preset": "mnist_small",
             "cells": _cells({("maesi-3pt", "1"): 0.1, ("maesi-3pt", "7"): 0.5})},
            {"size": 5000, "preset": "mnist", "cells": _cells({("maesi-3pt", "1"): 0.35})}]
    lines = budget.answer({"runs": runs, "paper": {"1": 0.982, "7": 0.974, "9": 0.899}})
    text = "\n".join(lines)
    assert ("Finished so far at all (5,000 images), `mnist_small`: class 1 0.1000, class 7 0.5000; its mean waits "
            "for class 9.") in text
    assert "Finished so far at 5k, `mnist`: class 1 0.3500; its mean waits for class 7, 9." in text


def test_the_answer_says_no_when_budget_does_not_close_the_gap_and_reads_each_class_against_the_noise():
    runs = [{"size": s, "preset": "mnist_small",
             "cells": _cells({("maesi-3pt", "1"): c1, ("maesi-3pt", "7"): 0.50 + d, ("maesi-3pt", "9"): 0.53})}
            for s, c1, d in ((5000, 0.30, 0.00), (10000, 0.16, -0.02), (20000, 0.11, 0.01), (60000, 0.08, 0.03))]
    runs.append({"size": 5000, "preset": "mnist", "cells": {}})
    five = runs[0]["cells"]
    data = {"runs": runs, "paper": {"1": 0.982, "7": 0.974, "9": 0.899},
            "reported_5k": {("maesi-3pt", "1"): 0.30, ("maesi-3pt", "7"): 0.56, ("maesi-3pt", "9"): 0.53}}
    assert budget.code_sensitivity(runs[0], data) == (pytest.approx(0.06), "7")
    text = "\n".join(budget.answer(data))
    assert text.startswith("**No.** With every training image our mean is 0.3800 (-0.0633 from 5k)")
    assert "the closest budget, 5k, is still 0.5083 below the paper" in text
    assert "class 1 falls at every step (0.3000, 0.1600, 0.1100, 0.0800)" in text
    assert "class 7 stays within the run-to-run movement" in text and "class 9 stays within" in text
    assert five == runs[0]["cells"]
    runs[-2]["cells"] = _cells({("maesi-3pt", k): 0.95 for k in ("1", "7", "9")})
    assert "\n".join(budget.answer(data)).startswith("**Yes.**")
