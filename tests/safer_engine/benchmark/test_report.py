"""The report's summary over seeds and its verdict on which method is best."""

from __future__ import annotations

import polars as pl

from safer_engine.benchmark.report import best_methods, markdown, not_separated, summarise


def results(auroc: dict[str, list[float]]) -> pl.DataFrame:
    rows = []
    for method, values in auroc.items():
        for seed, value in enumerate(values):
            rows.append(
                {
                    "noise": 10.0,
                    "seed": seed,
                    "method": method,
                    "reference": False,
                    "flipped": 12,
                    "safety_train": 120,
                    "auroc": value,
                    "average_precision": value / 2,
                    "precision": value / 3,
                    "recall": value / 3,
                    "safety_accuracy": 0.9,
                    "general_accuracy": 0.8,
                    "all_accuracy": 0.85,
                    "cleanlab_flagged": None,
                }
            )
    return pl.DataFrame(rows, infer_schema_length=None)


def test_the_best_and_the_methods_seeds_cannot_tell_from_it() -> None:
    summary = summarise(
        results(
            {
                "safer": [0.90, 0.96],  # mean 0.93, wide interval
                "margin": [0.94, 0.95],  # mean 0.945: the best
                "random": [0.50, 0.51],
            }
        )
    )
    by_auroc, by_ap = best_methods(summary)[10.0]
    assert by_auroc == by_ap == "margin"
    assert not_separated(summary, 10.0, "margin", "auroc") == ["safer"]
    text = markdown(summary, "t", [])
    assert "**noisy RM's margin** by AUROC (not separated from SAFER" in text
    assert "random" not in text.split("Best at")[1]
