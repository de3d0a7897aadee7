"""A/B trial analysis job: did the challenger beat the model the endpoint serves (the champion)?

Runs as a SageMaker Processing job (``python3 trial_analysis.py [arguments]``) after a trial in which an endpoint
served a champion variant and a challenger variant with data capture on, once labels for the captured requests
exist. It matches each variant's captured answers with their labels, scores both variants on the metric, tests the
difference and writes the decision.

Inputs (folders; each argument in brackets moves one):

- ``/opt/ml/processing/capture/<VariantName>/`` [``--capture-dir``, the parent]: one processing input per
  variant, the champion's and the challenger's, each holding that variant's capture files of the trial
  (SageMaker writes them under ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/``; give the
  ``<endpoint>/<variant>/`` prefix, or the hour folders the trial touches). A shadow variant's captures are
  given the same way under its own name. Records are read as ``driftline_ml/trial_data.py`` describes.
- ``/opt/ml/processing/labels/`` [``--labels-dir``]: ground-truth labels, Model Monitor's JSON lines
  (``{"groundTruthData": {"data": "<label>", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"},
  "eventVersion": "0"}``, ``.jsonl`` files under ``<prefix>/yyyy/mm/dd/hh/``) or CSV files whose header names
  ``inference_id`` and the target column, or both. A label's id is the request's ``InferenceId`` when the caller
  set one, else the captured ``eventMetadata.eventId``, as Model Monitor merges them.
- ``/opt/ml/processing/config/`` [``--config-dir``], optional: the run's resolved config (``config.json``), for
  ``problem_type``, ``metric`` and ``target`` when the arguments do not give them.

Arguments: ``--challenger-variant`` (required), ``--champion-variant`` (default ``AllTraffic``), ``--mode``
(``split``: each variant answered its own requests; ``shadow``: the challenger answered copies of the champion's
requests, so rows are compared in pairs; default split), ``--metric`` and ``--problem-type`` (default: the run
config's; the metric defaults to the problem type's), ``--target`` (the CSV labels' column; default the run
config's), ``--significance`` (alpha, default 0.05), ``--min-labelled-rows`` (each variant's, or in shadow mode the
pairs', default 200), ``--start-time`` and ``--end-time`` (ISO 8601 UTC; only records whose
``eventMetadata.inferenceTime`` is in [start, end) count; none given: every record), ``--resamples`` and
``--seed`` (permutation and bootstrap; default 2000 and 0), ``--endpoint-name`` and ``--trial-name`` (quoted in
the outputs).

Outputs, in ``/opt/ml/processing/output/`` [``--output-dir``]:

- ``trial.json``: the decision and why, in a few kilobytes (``trial_document`` below lists its fields): ``decision``
  is ``challenger`` (significantly better: promote it), ``champion`` (it keeps serving; ``finding`` says whether
  it was significantly better or no significant difference was seen) or ``not_enough_evidence`` (a variant has
  fewer labelled rows than the minimum, or its metric is undefined on them: nothing is decided, the reason names
  the numbers);
- ``trial_report.html``: the same for people, self-contained.

The statistics are ``driftline_ml/trial_statistics.py``'s. Bad capture or label lines never fail the job: they
are counted by reason in both outputs, the first few named by file and line. An input left out or empty (SageMaker
refuses an input whose S3 prefix holds no object, so a caller leaves it out) is evidence the trial lacks: the
decision is ``not_enough_evidence`` and the reason says which input held no files. The job fails (exit 1, the
reason in ``/opt/ml/output/message``) only on arguments it cannot work with: an unknown problem type or metric, the
same variant named twice, a window that is not ISO 8601 times or ends before it starts.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.capture import TimeWindow
from driftline_ml.jobs import (
    JobInputError,
    output_dir,
    processing_dir,
    read_run_config,
    run_job,
    write_json,
)
from driftline_ml.metrics import DEFAULT_METRIC, METRIC_NAMES, higher_is_better
from driftline_ml.tabular import PROBLEM_TYPES, is_classification
from driftline_ml.trial_data import Answer, Labels, Problems, VariantCapture, label_number, read_labels, read_variant
from driftline_ml.trial_report import render
from driftline_ml.trial_statistics import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_ALPHA,
    DEFAULT_MIN_LABELLED_ROWS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MODES,
    SHADOW,
    SPLIT,
    TEST_LABELS,
    Rows,
    Score,
    TrialOutcome,
    analyse,
)
from driftline_ml.values import class_label, label_sort_key

TRIAL_FILE = "trial.json"
REPORT_FILE = "trial_report.html"
SCHEMA_VERSION = 1
DEFAULT_CHAMPION_VARIANT = "AllTraffic"
"""The variant an endpoint created by the pipeline serves its model as (driftline_core.layout.VARIANT_NAME)."""
NO_SCORE = "an answer without the positive class's probability, which auc needs"
MAX_LISTED_FILES = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    root = processing_dir()
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--challenger-variant", required=True)
    parser.add_argument("--champion-variant", default=DEFAULT_CHAMPION_VARIANT)
    parser.add_argument("--mode", choices=MODES, default=SPLIT)
    parser.add_argument("--metric")
    parser.add_argument("--problem-type", choices=PROBLEM_TYPES)
    parser.add_argument("--target")
    parser.add_argument("--significance", "--alpha", dest="alpha", type=float, default=DEFAULT_ALPHA)
    parser.add_argument("--min-labelled-rows", type=int, default=DEFAULT_MIN_LABELLED_ROWS)
    parser.add_argument("--start-time")
    parser.add_argument("--end-time")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--endpoint-name", default="")
    parser.add_argument("--trial-name", default="")
    parser.add_argument("--capture-dir", type=Path, default=root / "capture")
    parser.add_argument("--labels-dir", type=Path, default=root / "labels")
    parser.add_argument("--config-dir", type=Path, default=root / "config")
    parser.add_argument("--output-dir", type=Path, default=root / "output")
    parser.add_argument("--message-file", type=Path, default=output_dir() / "message")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_job(lambda: analyse_trial(args), what="The A/B trial analysis", reason_file=args.message_file)


# -- arguments and inputs ----------------------------------------------------------------------------------------


def resolve(args: argparse.Namespace) -> tuple[str, str, str | None, TimeWindow | None]:
    """The problem type, metric, label column and window, each checked so a wrong one names itself."""
    config = read_run_config(args.config_dir)
    problem_type = args.problem_type or config.get("problem_type")
    if problem_type not in PROBLEM_TYPES:
        given = f" (the run config says {problem_type!r})" if problem_type else ""
        raise JobInputError(
            f"the problem type is not known{given}: give --problem-type ({', '.join(PROBLEM_TYPES)}) or the run's "
            "config.json as the config input"
        )
    metric = args.metric or config.get("metric") or DEFAULT_METRIC[problem_type]
    if metric not in METRIC_NAMES[problem_type]:
        raise JobInputError(
            f"metric {metric!r} is not one of {problem_type}'s metrics; choose one of "
            f"{', '.join(METRIC_NAMES[problem_type])}"
        )
    champion, challenger = args.champion_variant, args.challenger_variant
    for role, name in ((CHAMPION, champion), (CHALLENGER, challenger)):
        if not name or "/" in name or name in (".", ".."):
            raise JobInputError(f"the {role} variant name {name!r} is not a production variant name")
    if champion == challenger:
        raise JobInputError(f"the champion and the challenger are the same variant {champion!r}; name two variants")
    if not 0 < args.alpha < 1:
        raise JobInputError(f"the significance level {args.alpha:g} must be between 0 and 1, such as 0.05")
    if args.min_labelled_rows < 1 or args.resamples < 100:
        raise JobInputError("--min-labelled-rows must be 1 or more and --resamples 100 or more")
    try:
        window = TimeWindow.between(args.start_time, args.end_time)
    except ValueError as error:
        raise JobInputError(f"{error}: give the trial's start and end as ISO 8601 UTC times") from error
    if window is not None and window.start and window.end != "~" and window.start >= window.end:
        raise JobInputError(f"the trial window ends ({args.end_time}) before it starts ({args.start_time})")
    target = args.target or config.get("target")
    return problem_type, metric, str(target) if target else None, window


def missing_inputs(args: argparse.Namespace, names: tuple[str, str], captures: list[VariantCapture]) -> str:
    """A sentence naming the inputs that held no files, or "". SageMaker refuses an input whose S3 prefix holds no
    objects, so a caller leaves such an input out: the trial then lacks that evidence, which is no failure."""
    missing = [
        f"no capture files for the {role} ({name}) under {args.capture_dir / name}"
        for role, name, capture in zip((CHAMPION, CHALLENGER), names, captures)  # noqa: B905 (Python 3.9)
        if not capture.files
    ]
    if not args.labels_dir.is_dir() or not any(path.is_file() for path in args.labels_dir.rglob("*")):
        missing.append(f"no label files under {args.labels_dir}")
    if not missing:
        return ""
    present = sorted(p.name for p in args.capture_dir.iterdir() if p.is_dir()) if args.capture_dir.is_dir() else []
    found = ""
    if present and any(not capture.files for capture in captures):
        found = f" (the capture input holds {', '.join(map(repr, present))})"
    return f"The job was given {' and '.join(missing)}{found}."


# -- matching answers with labels --------------------------------------------------------------------------------


class Matched:
    """A variant's labelled rows: (id, row) -> (label text, answer), and the labels it could not use, by reason."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], tuple[str, Answer]] = {}
        self.unusable = Problems()


def match(capture: VariantCapture, labels: Labels, classifier: bool) -> Matched:
    matched = Matched()
    for key, answers in capture.answers.items():
        values = labels.values[key]
        if len(values) != len(answers):
            matched.unusable.note(
                f"a label with {len(values)} value(s) for an answer of {len(answers)} row(s)", f"id {key}"
            )
            continue
        for index, (value, answer) in enumerate(zip(values, answers)):  # noqa: B905 (Python 3.9)
            where = f"id {key}" + (f" row {index + 1}" if len(answers) > 1 else "")
            if classifier and class_label(value) is None:
                matched.unusable.note("an empty label", where)
            elif not classifier and label_number(value) is None:
                matched.unusable.note("a label that is not a number", where)
            else:
                matched.rows[(key, index)] = (value, answer)
    return matched


def class_order(matched: list[Matched]) -> list[str]:
    """The classes in the model's order: as the answers name them (JSON), then any other label seen, in the order
    preprocessing gives classes (numbers by value, then text), which is also a CSV answer's probability order."""
    named: list[str] = []
    seen: set[str] = set()
    for side in matched:
        for value, answer in side.rows.values():
            if answer.classes and not named:
                named = [label for label in (class_label(c) for c in answer.classes) if label is not None]
            seen.add(str(class_label(value)))
            seen.add(str(answer.label))
    return named + sorted(seen - set(named), key=label_sort_key)


def positive_score(answer: Answer, classes: list[str]) -> float:
    """The answer's probability for the positive class (the second in the model's order); NaN when it gave none."""
    if len(classes) < 2 or not answer.probabilities:
        return math.nan
    positive = classes[1]
    if answer.classes:
        named = [class_label(c) for c in answer.classes]
        return answer.probabilities[named.index(positive)] if positive in named else math.nan
    return answer.probabilities[1] if len(answer.probabilities) == 2 else math.nan


def encode(
    matched: Matched, keys: list[tuple[str, int]], problem_type: str, metric: str, classes: list[str]
) -> tuple[Rows, int]:
    """The rows of ``keys`` as arrays; for auc, rows without a score are left out and counted."""
    pairs = [matched.rows[key] for key in keys]
    if not is_classification(problem_type):
        truth = np.array([label_number(value) for value, _ in pairs], dtype=np.float64)
        predicted = np.array([answer.value for _, answer in pairs], dtype=np.float64)
        return Rows(truth, predicted), 0
    codes = {label: code for code, label in enumerate(classes)}
    truth = np.array([codes[str(class_label(value))] for value, _ in pairs], dtype=np.int64)
    predicted = np.array([codes[str(answer.label)] for _, answer in pairs], dtype=np.int64)
    scores = None
    if problem_type == "binary_classification":
        scores = np.array([positive_score(answer, classes) for _, answer in pairs], dtype=np.float64)
    if metric == "auc" and scores is not None:
        scored = ~np.isnan(scores)
        return Rows(truth[scored], predicted[scored], scores[scored]), int(np.count_nonzero(~scored))
    if scores is not None and np.isnan(scores).any():
        scores = None
    return Rows(truth, predicted, scores), 0


def compared_keys(
    mode: str, champion: Matched, challenger: Matched
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Each variant's rows to compare: all its labelled rows (split), or the requests both answered (shadow)."""
    if mode == SHADOW:
        both = sorted(set(champion.rows) & set(challenger.rows))
        return both, both
    return sorted(champion.rows), sorted(challenger.rows)


# -- the job -----------------------------------------------------------------------------------------------------


def analyse_trial(args: argparse.Namespace) -> None:
    problem_type, metric, target, window = resolve(args)
    names = (args.champion_variant, args.challenger_variant)
    labels = read_labels(args.labels_dir, target) if args.labels_dir.is_dir() else Labels()
    classifier = is_classification(problem_type)
    captures = [read_variant(args.capture_dir / name, name, labels.values, classifier, window) for name in names]
    matched = [match(capture, labels, classifier) for capture in captures]
    classes = class_order(matched) if classifier else []
    keys = compared_keys(args.mode, *matched)
    encoded = [encode(side, side_keys, problem_type, metric, classes) for side, side_keys in zip(matched, keys)]  # noqa: B905
    for side, (_, unscored) in zip(matched, encoded):  # noqa: B905
        for _ in range(unscored):
            side.unusable.note(NO_SCORE, "a labelled row")
    outcome = analyse(
        metric,
        args.mode,
        encoded[0][0],
        encoded[1][0],
        alpha=args.alpha,
        min_labelled_rows=args.min_labelled_rows,
        resamples=args.resamples,
        seed=args.seed,
        names=names,
    )
    missing = missing_inputs(args, names, captures)
    if missing:
        outcome = replace(outcome, decision=replace(outcome.decision, reason=f"{outcome.decision.reason} {missing}"))
    document = trial_document(args, problem_type, window, outcome, captures, matched, labels, classes)
    write_json(args.output_dir / TRIAL_FILE, document)
    (args.output_dir / REPORT_FILE).write_text(render(document), encoding="utf-8")
    log(document)


def trial_document(
    args: argparse.Namespace,
    problem_type: str,
    window: TimeWindow | None,
    outcome: TrialOutcome,
    captures: list[VariantCapture],
    matched: list[Matched],
    labels: Labels,
    classes: list[str],
) -> dict[str, Any]:
    """``trial.json``:

    - ``schema_version`` (1), ``endpoint_name``, ``trial_name``, ``analysed_at`` (UTC);
    - ``decision`` (``challenger`` | ``champion`` | ``not_enough_evidence``), ``finding`` (``challenger_better`` |
      ``champion_better`` | ``no_significant_difference`` | ``not_enough_evidence``), ``reason`` (one sentence);
    - ``mode``, ``problem_type``, ``metric``, ``higher_is_better``, ``alpha``, ``min_labelled_rows``,
      ``window`` (``start``, ``end``: ISO times or null), ``positive_class`` (binary classification);
    - ``champion`` and ``challenger``: ``variant``, ``capture_files``, ``records`` (lines read), ``requests``
      (records in the window whose id and answer were read), ``outside_window``, ``unreadable_records`` with
      ``unreadable_reasons`` ({reason: count}) and ``unreadable_examples``, ``labelled_rows``, ``compared_rows``
      (the rows the test compares: the labelled rows, or in shadow mode those of requests both variants answered),
      ``unusable_labels`` with ``unusable_label_reasons``, ``metric_value`` (null when undefined) and
      ``metric_interval`` (``low``, ``high``, ``level`` = 1 - alpha, ``method``; or null);
    - ``test``: null when nothing is decided, else ``name``, ``label``, ``description``, ``statistic``,
      ``statistic_name``, ``p_value``, ``significant``, ``difference`` (challenger minus champion, in the metric's
      units), ``challenger_better`` (the difference's direction, whichever way the metric improves),
      ``difference_interval`` and ``details`` (the counts or means the test used);
    - ``labels``: ``files``, ``other_files`` (not read), ``records``, ``labelled_ids``, ``repeated_ids``,
      ``matched_ids``, ``unmatched_ids`` (ids no request of either variant in the window has),
      ``unreadable_records``, ``unreadable_reasons``, ``unreadable_examples``.
    """
    matched_ids = set(captures[0].answers) | set(captures[1].answers)
    test = outcome.test
    return {
        "schema_version": SCHEMA_VERSION,
        "endpoint_name": args.endpoint_name,
        "trial_name": args.trial_name,
        "analysed_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),  # noqa: UP017 (Python 3.9)
        "decision": outcome.decision.decision,
        "finding": outcome.decision.finding,
        "reason": outcome.decision.reason,
        "mode": outcome.mode,
        "problem_type": problem_type,
        "metric": outcome.metric,
        "higher_is_better": higher_is_better(outcome.metric),
        "alpha": outcome.alpha,
        "min_labelled_rows": outcome.min_labelled_rows,
        "window": {
            "start": f"{window.start}Z" if window and window.start else None,
            "end": f"{window.end}Z" if window and window.end != "~" else None,
        },
        "positive_class": classes[1] if problem_type == "binary_classification" and len(classes) >= 2 else None,
        CHAMPION: variant_section(captures[0], matched[0], outcome.champion),
        CHALLENGER: variant_section(captures[1], matched[1], outcome.challenger),
        "test": None if test is None else {"label": TEST_LABELS[test.name], **test.as_dict(outcome.alpha)},
        "labels": {
            "files": labels.files,
            "other_files": labels.other_files[:MAX_LISTED_FILES],
            "records": labels.records,
            "labelled_ids": len(labels.values),
            "repeated_ids": labels.repeated,
            "matched_ids": len(matched_ids),
            "unmatched_ids": len(set(labels.values) - matched_ids),
            "unreadable_records": labels.problems.total,
            "unreadable_reasons": dict(labels.problems.counts),
            "unreadable_examples": labels.problems.examples,
        },
    }


def variant_section(capture: VariantCapture, matched: Matched, score: Score) -> dict[str, Any]:
    scored = score.as_dict()
    return {
        "variant": capture.variant,
        "capture_files": capture.files,
        "records": capture.records,
        "requests": capture.requests,
        "outside_window": capture.outside_window,
        "unreadable_records": capture.problems.total,
        "unreadable_reasons": dict(capture.problems.counts),
        "unreadable_examples": capture.problems.examples,
        "labelled_rows": len(matched.rows),
        "compared_rows": score.rows,
        "unusable_labels": matched.unusable.total,
        "unusable_label_reasons": dict(matched.unusable.counts),
        "metric_value": scored["value"],
        "metric_interval": scored["interval"],
    }


def log(document: dict[str, Any]) -> None:
    """The job's log: each variant's figures, the test and the decision."""
    for role in (CHAMPION, CHALLENGER):
        side = document[role]
        value = side["metric_value"]
        shown = "undefined" if value is None else f"{value:.6f}"
        print(
            f"{role} {side['variant']}: {side['requests']} requests, {side['labelled_rows']} labelled rows, "
            f"{side['compared_rows']} compared, {document['metric']}={shown}"
        )
        if side["unreadable_records"]:
            print(f"  {side['unreadable_records']} capture records not read: {side['unreadable_reasons']}")
    labels = document["labels"]
    print(
        f"labels: {labels['labelled_ids']} ids from {labels['files']} files, {labels['unmatched_ids']} matching no "
        f"request in the trial, {labels['unreadable_records']} not read"
    )
    test = document["test"]
    if test is not None:
        print(f"{test['label']}: {test['statistic_name']}={test['statistic']}, p={test['p_value']:.6g}")
    print(f"decision: {document['decision']} ({document['finding']}). {document['reason']}")


if __name__ == "__main__":
    sys.exit(main())
