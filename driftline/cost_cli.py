"""``driftline cost``: the monthly cost of a deployment, and ``--refresh-prices`` to rewrite the price snapshot.

The estimate reads the template's parameters (its defaults, a deployed stack's values with ``--stack-name``, then
``--parameter-overrides`` as ``sam deploy`` takes them) and the usage options, and prices them with the AWS Price List
API when AWS credentials are at hand (else, or with ``--snapshot-prices``, with the shipped snapshot). The output says
which prices it used and of which date.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from driftline import cost
from driftline.layer_modules import layer_module

DESCRIPTION = (
    "Estimate what a Driftline deployment costs a month: the template's parameters (its defaults, a deployed stack's "
    "values with --stack-name, then --parameter-overrides) and the usage below, at on-demand prices from the AWS Price "
    "List API when AWS credentials are at hand, else from the price snapshot shipped with Driftline. The output names "
    "the prices it used and their date. --refresh-prices rewrites that snapshot from the Price List API."
)
USAGE_OPTIONS = {
    "datasets": (int, "datasets, one endpoint each"),
    "runs_per_month": (float, "pipeline runs a month, all datasets together (uploads and retrains)"),
    "deployments_per_month": (float, "runs whose model is deployed (each runs a baseline job); default: every run"),
    "preprocess_minutes": (float, "billed minutes of each instance of a preprocessing job"),
    "training_minutes": (float, "billed minutes of each instance of a training job"),
    "evaluation_minutes": (float, "billed minutes of an evaluation job"),
    "baseline_minutes": (float, "billed minutes of a baseline job"),
    "monitor_minutes": (
        float,
        "billed minutes of a monitoring job (default 4 for Driftline's monitor, 10 for Model Monitor)",
    ),
    "rows_per_run": (
        float,
        "rows of a run's data (more than PreprocessRowsPerInstance: several preprocessing instances)",
    ),
    "training_instances": (int, "instances a run trains on (a dataset's model.instance_count, XGBoost only)"),
    "requests_per_month": (float, "requests each endpoint serves a month"),
    "capture_kb_per_request": (float, "KB a captured request and its answer take in S3"),
    "inference_ms": (float, "serverless endpoints: compute time of one request, in milliseconds"),
    "features": (int, "feature columns per dataset (the drift monitor publishes a metric for each, and one more)"),
    "pipeline_metrics": (int, "metric names the functions publish in the Driftline namespace in a month"),
}
"""``Usage``'s fields as options; each default is ``Usage``'s."""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "cost",
        help="estimate what a deployment costs a month, or refresh the price snapshot (--refresh-prices)",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters, as sam deploy takes them (e.g. EndpointType=Serverless)",
    )
    parser.add_argument(
        "--stack-name", default=None, metavar="NAME", help="read a deployed stack's parameters (DescribeStacks)"
    )
    parser.add_argument(
        "--region",
        action="append",
        default=None,
        metavar="REGION",
        help="the deployment's region (default: the stack's or your AWS config's, else us-east-1); with "
        "--refresh-prices, a region to add to the snapshot (repeatable)",
    )
    defaults = cost.Usage()
    for name, (kind, text) in USAGE_OPTIONS.items():
        default = getattr(defaults, name)
        shown = f" (default {default:g})" if isinstance(default, int | float) else ""
        metavar = "MIN" if name.endswith("minutes") else ("MS" if name.endswith("_ms") else "N")
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=None, metavar=metavar, help=f"{text}{shown}"
        )
    parser.add_argument("--snapshot-prices", action="store_true", help="price with the shipped snapshot only")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument(
        "--refresh-prices",
        action="store_true",
        help="rewrite the price snapshot from the AWS Price List API (needs AWS credentials and pricing:GetProducts)",
    )
    parser.add_argument(
        "--instance-types",
        nargs="+",
        default=[],
        metavar="TYPE",
        help="with --refresh-prices: instance types to add to the snapshot (ml.c5.9xlarge ...)",
    )
    parser.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.refresh_prices:
            return _refresh(args)
        return _estimate(args)
    except cost.CostCommandError as error:
        print(f"driftline: {error}", file=sys.stderr)
        return 1


def _estimate(args: argparse.Namespace) -> int:
    from driftline.cli import parameter_overrides

    if args.region and len(args.region) > 1:
        raise cost.CostCommandError("an estimate is for one region: give --region once")
    try:
        overrides = parameter_overrides(args.parameter_overrides)
    except ValueError as error:
        raise cost.CostCommandError(str(error)) from None
    usage = cost.Usage(**{name: getattr(args, name) for name in USAGE_OPTIONS if getattr(args, name) is not None})
    region_given = args.region[0] if args.region else None
    result = cost.estimate_deployment(
        overrides=overrides,
        usage=usage,
        stack_name=args.stack_name,
        region=region_given,
        live_prices=not args.snapshot_prices,
    )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print(format_estimate(result))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    prices = layer_module("driftline_core.costs.prices")
    snapshot = prices.load_snapshot()
    try:
        refreshed, kept = cost.refresh_snapshot(
            cost.price_list_client("us-east-1"),
            snapshot,
            today=date.today().isoformat(),
            regions=args.region or [],
            instance_types=args.instance_types,
        )
    except (BotoCoreError, ClientError) as error:
        raise cost.CostCommandError(
            f"the AWS Price List API did not answer ({error}); nothing was written. Refreshing needs AWS credentials "
            "whose policy allows pricing:GetProducts."
        ) from None
    except ValueError as error:
        raise cost.CostCommandError(f"{error}; nothing was written.") from None
    try:
        written = prices.write_snapshot(refreshed)
    except ValueError as error:
        raise cost.CostCommandError(f"{error}; nothing was written.") from None
    print(
        f"Rewrote {written}: on-demand prices of {refreshed.date} from the AWS Price List API for "
        f"{', '.join(sorted(refreshed.regions))}."
    )
    for line in kept:
        print(f"  kept: {line}")
    print("Deploy again (sam build && sam deploy) to ship it to the Notify function.")
    return 0


# Output ----------------------------------------------------------------------------------------------------


def format_estimate(result: cost.Estimate) -> str:
    """The estimate as the terminal shows it: a table per item, the total, the prices, assumptions, what is left out."""
    prices = layer_module("driftline_core.costs.prices")
    rows = [
        (
            line.item,
            f"{_quantity(line.quantity)} {_plural(line.unit, line.quantity)}",
            _unit_price(line.price.usd, line.unit, prices),
            prices.usd_amount(line.monthly),
        )
        for line in result.lines
    ]
    headings = ("item", "quantity", "unit price", "monthly")
    widths = [max(len(row[i]) for row in [headings, *rows]) for i in range(4)]

    def row_text(row: tuple[str, str, str, str]) -> str:
        item, quantity, unit_price, monthly = row
        return (
            f"{item.ljust(widths[0])}  {quantity.rjust(widths[1])}  {unit_price.rjust(widths[2])}  "
            f"{monthly.rjust(widths[3])}"
        ).rstrip()

    usage = result.usage
    lines = [
        f"Driftline's monthly cost in {result.region}: about {prices.usd_amount(result.total)}",
        f"Parameters: {result.parameters_from}. Usage: {usage.datasets} dataset{'s' if usage.datasets != 1 else ''}, "
        f"{usage.runs_per_month:g} runs a month ({usage.deployments:g} deployed), "
        f"{usage.requests_per_month:,.0f} requests per endpoint.",
        "",
        row_text(headings),
        *(row_text(row) for row in rows),
        row_text(("Total", "", "", prices.usd_amount(result.total))),
        "",
        f"Prices: {result.prices}.",
        "Assumptions:",
        *(f"  - {assumption}" for assumption in result.assumptions),
        "Not counted:",
        *(f"  - {item}" for item in result.not_counted),
    ]
    return "\n".join(lines)


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def _plural(unit: str, quantity: float) -> str:
    return unit if quantity == 1 else f"{unit}s"


def _unit_price(usd: float, unit: str, prices: Any) -> str:
    """``$0.115 per instance-hour``; a price under a cent per 1,000 or per million units."""
    for scale, label in ((1, ""), (1_000, "1,000 "), (1_000_000, "1M ")):
        if usd * scale >= 0.01:
            return f"{prices.unit_amount(usd * scale)} per {label}{unit if scale == 1 else unit + 's'}"
    return f"{prices.usd_amount(usd)} per {unit}"
