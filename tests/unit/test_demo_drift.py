"""The demo's drift part: the drifted labelled upload and the traffic it sends to the endpoint."""

from __future__ import annotations

import csv
from pathlib import Path

from driftline.local.demo import DRIFT_SCALE, traffic_rows, write_drifted_sample, write_sample


def _table(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        return next(reader), list(reader)


def test_the_drifted_upload_keeps_every_label_and_shifts_every_feature(tmp_path: Path) -> None:
    header, usual = _table(write_sample("breast-cancer", tmp_path, 0))
    drifted_header, drifted = _table(write_drifted_sample("breast-cancer", tmp_path, 0))

    assert drifted_header == header
    assert len(drifted) == len(usual)
    target = header.index("diagnosis")
    assert [row[target] for row in drifted] == [row[target] for row in usual]
    for before, after in zip(usual[:20], drifted[:20], strict=True):
        for column, (old, new) in enumerate(zip(before, after, strict=True)):
            if column != target:
                assert abs(float(new) - float(old) * DRIFT_SCALE) <= 1e-5 * max(1.0, abs(float(new)))


def test_drifted_credit_data_comes_from_a_shifted_population(tmp_path: Path) -> None:
    header, usual = _table(write_sample("credit", tmp_path, 2000))
    _, drifted = _table(write_drifted_sample("credit", tmp_path, 2000))
    utilization = header.index("utilization")

    def mean(rows: list[list[str]]) -> float:
        return sum(float(row[utilization]) for row in rows) / len(rows)

    assert mean(drifted) > mean(usual) + 0.1


def test_traffic_is_sent_in_the_models_feature_order_without_the_target(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("label,b,a\nyes,2,1\nno,4,3\nyes,6,5\n", encoding="utf-8")
    model = {"target": "label", "feature_columns": ["a", "b"]}

    assert traffic_rows(path, model) == ["1,2", "3,4", "5,6"]
    assert traffic_rows(path, model, limit=2) == ["1,2", "3,4"]
