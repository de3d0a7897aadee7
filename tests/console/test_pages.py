"""The console's pages: what each shows, escaped, with nothing secret."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from driftline.console import pages
from driftline.console.charts import line_chart
from driftline.console.reads import (
    AlarmChange,
    Deployment,
    DriftView,
    EndpointView,
    ModelVersion,
    RunDetail,
    RunRow,
    VariantView,
)
from driftline.stepfunctions_history import Step

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_chart_draws_each_point_and_the_threshold_and_says_so_when_empty() -> None:
    chart = line_chart([("v1", 0.91), ("v2", 0.93), ("v3", 0.95)], title="accuracy by version", threshold=0.9)

    assert chart.count('<circle class="point"') == 3 and 'class="threshold"' in chart
    assert "<title>v2: 0.93</title>" in chart and "<script" not in chart
    assert "nothing to plot yet" in line_chart([], title="accuracy")
    assert line_chart([("v1", 0.5)], title="one").count('<circle class="point"') == 1


def test_a_chart_names_what_it_plots_and_never_draws_a_count_below_zero() -> None:
    errors = line_chart([("12:00", 0.0), ("12:01", 0.0)], title="Invocation5XXErrors (errors)")
    distances = line_chart([("12:00", 0.02), ("12:01", 0.6)], title="feature mean_radius", threshold=0.1)
    shifted = line_chart([("v1", -0.5), ("v2", 0.5)], title="a score")

    assert '<p class="chart-title">Invocation5XXErrors (errors)</p>' in errors
    assert [tick for tick in re.findall(r'class="tick"[^>]*>([^<]+)<', errors)] == ["0"]
    assert re.findall(r'class="tick"[^>]*>([^<]+)<', distances) == ["0.02", "0.6"]
    assert re.findall(r'class="tick"[^>]*>([^<]+)<', shifted) == ["-0.5", "0.5"]
    assert '<p class="chart-title">a score</p>' in shifted


def test_a_waiting_version_gets_the_decision_form_with_the_session_s_token_and_decided_ones_say_who() -> None:
    pending = ModelVersion(
        "arn:aws:sagemaker:us-east-1:1:model-package/driftline-x/2",
        2,
        "PendingManualApproval",
        NOW,
        "auc",
        0.9,
        "",
        None,
        "x-123456789abc",
    )
    approved = ModelVersion(
        "arn:aws:sagemaker:us-east-1:1:model-package/driftline-x/1",
        1,
        "Approved",
        NOW - timedelta(days=1),
        "auc",
        0.8,
        "Approved by <ann> in the Driftline console",
        NOW,
        "x-abcdef123456",
    )

    page = pages.group_page("driftline-x", [approved, pending], csrf="tok-123")

    assert page.count('<form method="post" action="/models/decide"') == 1
    assert (
        'name="csrf" value="tok-123"' in page
        and 'value="arn:aws:sagemaker:us-east-1:1:model-package/driftline-x/2"' in page
    )
    assert "Approved by &lt;ann&gt; in the Driftline console" in page and "<ann>" not in page
    assert page.count('<circle class="point"') == 2


def test_an_endpoint_page_shows_each_variant_with_its_charts_and_the_last_failure() -> None:
    series = {"Invocations": [(NOW, 5.0), (NOW + timedelta(minutes=1), 7.0)], "ModelLatency": [(NOW, 3.5)]}
    view = EndpointView(
        "driftline-x",
        "InService",
        "driftline-x-config-2",
        NOW,
        "Rolled back: alarm <driftline-x-5xx> fired",
        [VariantView("AllTraffic", "driftline-x-v2", 1.0, 1, series)],
    )

    deployed = [
        Deployment("x-222222222222", NOW, "version 2", "deployed to driftline-x (updated)", failed=False),
        Deployment("x-111111111111", NOW - timedelta(hours=1), "", "DeploymentFailed: rolled back <5xx>", failed=True),
    ]

    page = pages.endpoint_page(view, deployed)

    assert "AllTraffic: driftline-x-v2 (1, 1 instance(s))" in page
    assert page.count('class="chart-box"') == 4 and "Invocations (requests)" in page
    assert "Rolled back: alarm &lt;driftline-x-5xx&gt; fired" in page
    history = page[page.index("<h2>Deployments</h2>") :]
    assert history.index("x-222222222222") < history.index("x-111111111111")
    assert '<tr class="failed">' in history and "DeploymentFailed: rolled back &lt;5xx&gt;" in history
    assert '<a href="/runs/x-222222222222">' in history and "version 2" in history
    assert "No run has deployed" in pages.endpoint_page(view, [])


def test_a_drift_page_plots_each_feature_against_the_threshold_and_lists_changes_retrains_and_reports() -> None:
    view = DriftView(
        dataset="credit",
        alarm="driftline-drift-credit",
        state="ALARM",
        state_reason="2 features drifted",
        endpoint="driftline-credit",
        threshold=0.1,
        features={"income": [(NOW, 0.02), (NOW + timedelta(minutes=1), 0.4)], "age": [(NOW, 0.01)]},
        history=[AlarmChange(NOW, "Alarm updated from OK to ALARM")],
        reports=["s3://artifacts/monitoring/credit/driftline-credit/s/2026/12/07/12/drift_report.html"],
    )
    retrain = RunRow("credit-0123456789ab", "credit", "RUNNING", NOW, None)

    page = pages.drift_page(view, artifact_link="/artifacts?uri={uri}", retrains=[retrain])

    assert 'data-feature="age"' in page and 'data-feature="income"' in page
    assert page.count('class="threshold"') == 2 and "(threshold 0.1)" in page
    assert "Alarm updated from OK to ALARM" in page and 'href="/runs/credit-0123456789ab"' in page
    assert "/artifacts?uri=s3%3A%2F%2Fartifacts%2Fmonitoring%2Fcredit" in page


def test_a_run_s_evaluation_shows_both_models_metrics_and_the_features_that_drifted() -> None:
    evaluation = {
        "binary_classification_metrics": {"auc": {"value": 0.9869}, "accuracy": {"value": 0.9357}},
        "incumbent": {
            "binary_classification_metrics": {"auc": {"value": 0.801}, "accuracy": {"value": 0.7018}},
            "model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/driftline-credit/1",
        },
        "data_drift": {
            "compared": True,
            "features": 30,
            "rows_compared": 967,
            "drifted_features": [{"name": "<radius>", "method": "KS, Robust", "distance": 0.494, "threshold": 0.1}],
        },
    }

    section = pages.evaluation_section(evaluation)

    assert "<tr><th>auc</th><td>0.9869</td><td>0.8010</td></tr>" in section
    assert "serving model: driftline-credit version 1" in section
    assert "1 of 30 features drifted over 967 rows" in section
    assert "<td>&lt;radius&gt;</td><td>KS, Robust</td><td>0.4940</td><td>0.1000</td>" in section
    first = pages.evaluation_section(
        {"regression_metrics": {"rmse": {"value": 1.5}}, "data_drift": {"compared": False}}
    )
    assert "<td>1.5000</td><td></td>" in first and "Not compared" in first


def test_a_run_whose_trial_winner_waits_shows_the_verdict_and_the_promotion_form_with_the_session_s_token() -> None:
    package = "arn:aws:sagemaker:us-east-1:1:model-package/driftline-x/2"
    steps = [
        Step("AnalyseTrial", "Task", NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)),
        Step("RequestPromotion", "Task", NOW - timedelta(minutes=1), submitted={"model_package_arn": package}),
    ]
    steps[0].result.update(winner="challenger", decision="challenger", reason="accuracy 0.95 > 0.90 <p=0.01>")
    detail = RunDetail(
        name="x-123456789abc",
        dataset="x",
        status="RUNNING",
        started=NOW - timedelta(minutes=30),
        stopped=None,
        reason="waiting for the promotion of driftline-x version 2",
        steps=steps,
        definition={"StartAt": "AnalyseTrial", "States": {}},
        output={},
        trigger={},
        data_uri="s3://data/x.csv",
        waiting_package=package,
        waiting_state="RequestPromotion",
    )

    live = pages.run_live(detail, NOW, csrf="tok-9")

    assert "driftline-x version 2 won its A/B trial and waits for a person" in live
    assert "accuracy 0.95 &gt; 0.90 &lt;p=0.01&gt;" in live
    assert live.count('<form method="post" action="/runs/x-123456789abc/decide"') == 1
    assert 'name="csrf" value="tok-9"' in live
    assert 'value="promote">Promote</button>' in live and 'value="keep">Keep the serving model</button>' in live
    waiting_for_approval = replace(detail, waiting_state="RequestApproval")
    assert "/decide" not in pages.run_live(waiting_for_approval, NOW, csrf="tok-9")
    assert 'href="/models/driftline-x"' in pages.run_live(waiting_for_approval, NOW, csrf="tok-9")
