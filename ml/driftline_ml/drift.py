"""Drift statistics in SageMaker Model Monitor's formats, as summaries that merge.

One home for what the baseline job, the monitor job and its merge step share:

- **Summaries.** A numeric feature is a KLL quantile sketch (Apache DataSketches' ``kll_doubles_sketch``)
  with its count, missing count, sum, mean, spread, min and max beside it; a categorical feature is its
  exact value counts. Both merge: sketches merge, counts add, means and spreads combine (Chan's formula),
  so shards of a window summarised apart give the window's summary.
- **Files.** ``statistics.json`` and ``constraints.json`` in Model Monitor's documented schemas ("Schema for
  Statistics", "Schema for Constraints"); the sketch sits in ``distribution.kll.sketch`` as Model Monitor
  embeds it (``parameters`` ``c``/``k`` and ``data``, the sketch's compactor levels), plus its serialised
  bytes so a later job can merge and query it. ``constraint_violations.json`` with Model Monitor's check
  types.
- **Distance.** Model Monitor's baseline drift distance is the L-infinity distance between the baseline and
  current distributions: for a numeric feature the largest gap between the two cumulative distribution
  functions (the two-sample Kolmogorov-Smirnov statistic), for a categorical one the largest gap between
  the two normalised frequency vectors. ``comparison_method`` ``Robust`` first subtracts
  ``1.8 * sqrt((n + m) / (n * m))``, the sampling noise two samples of sizes n and m show anyway.

The numeric distance from sketches is an estimate. Each sketch answers every CDF query within its
normalised rank error eps(k) with 99% confidence (DataSketches' bound; eps = 0.28% at k = 1000), and the
gap is evaluated at the union of both sketches' quantiles on a grid of ``RANK_GRID`` ranks, which misses at
most ``1 / RANK_GRID`` between grid points. So the distance is within ``2 * eps + 1 / RANK_GRID`` (about
0.006 at k = 1000) of the exact KS statistic: a twentieth of Model Monitor's default threshold of 0.1.
Below k items a sketch keeps every value and the distance is exact.

Only numpy and datasketches: the module runs in the SageMaker scikit-learn container (Python 3.9,
pandas 1.1, numpy 1.24) as well as here.
"""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline_ml.bundled import import_bundled

kll_doubles_sketch = import_bundled("datasketches").kll_doubles_sketch
"""DataSketches' KLL sketch of doubles; the SageMaker container gets it from the bundled wheel (ml/vendor/)."""

KLL_K = 1000
"""Sketch size: rank error 0.28% (99% confidence), about 3,000 retained values (24 KB) per feature."""
KLL_C = 2.0 / 3.0
"""DataSketches' KLL shrinks each compactor level's capacity by 2/3 per level down from the top."""
RANK_GRID = 2000
"""Quantile points taken from each sketch when looking for the largest CDF gap."""
HISTOGRAM_BUCKETS = 10
"""Model Monitor materialises a numeric distribution as 10 buckets."""
ROBUST_FACTOR = 1.8
STATISTICS_VERSION = 0
NUMERIC_TYPES = ("Integral", "Fractional")
STRING_TYPE = "String"
CHECK_TYPES = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
)
DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}
"""Model Monitor's documented defaults; a baseline's constraints.json carries them and may be edited."""
MAX_DOMAIN_SIZE = 1000
"""Categorical features with more distinct baseline values get no domain (no categorical_values_check)."""
MAX_EXAMPLES = 20
"""Unreadable records a summary names (file and line); all of them are counted by reason."""
MAX_KEYS = 100
"""Distinct reasons, or column names, a summary counts one by one; any further ones are counted together under
``OTHER_KEYS``, so a summary stays small whatever its records hold."""
OTHER_KEYS = "others (more than 100 kinds)"


class DriftInputError(ValueError):
    """A statistics or constraints document this module cannot use; the message says what to fix."""


def rank_error(k: int = KLL_K) -> float:
    """One sketch's normalised rank error for a CDF query, 99% confidence."""
    return float(kll_doubles_sketch.get_normalized_rank_error(k, False))


def distance_error_bound(k: int = KLL_K) -> float:
    """How far the sketched numeric distance may be from the exact KS statistic (see the module's docstring)."""
    return 2 * rank_error(k) + 1.0 / RANK_GRID


def new_sketch() -> Any:
    return kll_doubles_sketch(KLL_K)


@dataclass
class NumericFeature:
    """A numeric feature's summary: counts, moments and a KLL sketch of its present, finite values."""

    name: str
    missing: int = 0
    non_numeric: int = 0
    """Values present but not finite numbers (text in a numeric column, inf): counted, kept out of the sketch."""
    integral: int = 0
    mean: float = 0.0
    std: float = 0.0
    """Population standard deviation. Means and spreads are combined in units of a power of two at least as large
    as every value (see ``_combine``), so values near the largest double never overflow them: both always lie
    between the smallest and largest value."""
    total: float = 0.0
    """The sum; it alone can exceed the largest double (two values of 1e308), and is then not finite."""
    minimum: float = math.inf
    maximum: float = -math.inf
    sketch: Any = field(default_factory=new_sketch)

    kind = "numeric"

    @property
    def present(self) -> int:
        return int(self.sketch.n)

    @property
    def inferred_type(self) -> str:
        return "Integral" if self.present and self.integral == self.present else "Fractional"

    @property
    def std_dev(self) -> float:
        return self.std

    def add(self, values: np.ndarray, missing: int = 0, non_numeric: int = 0) -> None:
        """Add finite values; ``missing`` and ``non_numeric`` count the rows whose value is neither."""
        values = np.asarray(values, dtype=np.float64)
        self.missing += int(missing)
        self.non_numeric += int(non_numeric)
        if not len(values):
            return
        chunk = NumericFeature(self.name)  # the block's moments; its values go straight into this sketch
        chunk.integral = int(np.count_nonzero(values == np.floor(values)))
        chunk.minimum = float(values.min())
        chunk.maximum = float(values.max())
        with np.errstate(over="ignore", invalid="ignore"):
            chunk.total = float(values.sum())
        exponent = _exponent_above(max(chunk.maximum, -chunk.minimum))
        scaled = np.ldexp(values, -exponent) if exponent else values
        mean = float(chunk.total) / len(values) if not exponent else float(scaled.sum()) / len(scaled)
        squares = np.square(scaled - mean)
        chunk.mean = math.ldexp(mean, exponent)
        chunk.std = math.ldexp(math.sqrt(float(squares.sum()) / len(scaled)), exponent)
        present = self.present
        self.sketch.update(values)  # a sixth faster than a sketch of the block merged in
        self._combine(chunk, present, len(values))

    def __getstate__(self) -> dict[str, Any]:
        """Picklable, so worker processes can hand summaries back: the sketch travels as its bytes."""
        return {**self.__dict__, "sketch": bytes(self.sketch.serialize())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "sketch": kll_doubles_sketch.deserialize(state["sketch"])})

    def merge(self, other: NumericFeature) -> None:
        self.missing += other.missing
        self.non_numeric += other.non_numeric
        self._combine(other, self.present, other.present)
        self.sketch.merge(other.sketch)

    def _combine(self, other: NumericFeature, n_self: int, n_other: int) -> None:
        """Counts, sum, extremes and moments of the union of ``n_self`` values summarised here and ``n_other`` in
        ``other`` (sketches aside). Chan's formula for the mean and spread, in units of ``2**exponent`` (exact
        scaling), in which every mean, spread and difference of means is at most 2: nothing overflows however
        large the values."""
        if not n_other:
            return
        if n_self:
            n = n_self + n_other
            exponent = _exponent_above(max(abs(self.mean), abs(other.mean), self.std, other.std))
            mean, other_mean = math.ldexp(self.mean, -exponent), math.ldexp(other.mean, -exponent)
            std, other_std = math.ldexp(self.std, -exponent), math.ldexp(other.std, -exponent)
            delta = other_mean - mean
            variance = (n_self * std * std + n_other * other_std * other_std) / n + (
                delta * delta * (n_self / n) * (n_other / n)
            )
            self.mean = math.ldexp(mean + delta * (n_other / n), exponent)
            self.std = math.ldexp(math.sqrt(variance), exponent)
        else:
            self.mean, self.std = other.mean, other.std
        self.total += other.total
        self.integral += other.integral
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)


SAFE_MAGNITUDES = (2.0**-400, 2.0**400)
"""Values within these magnitudes have squares, and sums of squares over any realistic count, that neither
overflow nor underflow a double; beyond them means and spreads are computed in scaled units."""


def _exponent_above(magnitude: float) -> int:
    """0 for a magnitude in ``SAFE_MAGNITUDES`` (or 0), else ``e`` with ``magnitude < 2**e``: a scale that maps every
    value into [-1, 1] exactly, as scaling by a power of two loses no precision."""
    low, high = SAFE_MAGNITUDES
    if magnitude == 0 or low < magnitude < high or not math.isfinite(magnitude):
        return 0
    return math.frexp(magnitude)[1]


@dataclass
class CategoricalFeature:
    """A categorical feature's summary: exact counts of each value (merging adds them)."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0
    non_numeric: int = 0
    """Always 0: any text is a valid category. Kept so both kinds answer the same questions."""

    kind = "categorical"
    inferred_type = STRING_TYPE

    @property
    def present(self) -> int:
        return sum(self.counts.values())

    def add(self, counts: dict[str, int], missing: int = 0) -> None:
        for value, count in counts.items():
            self.counts[value] = self.counts.get(value, 0) + int(count)
        self.missing += int(missing)

    def merge(self, other: CategoricalFeature) -> None:
        self.add(other.counts, other.missing)


Feature = Any
"""NumericFeature or CategoricalFeature (one protocol: name, kind, present, missing, merge)."""


@dataclass
class WindowSummary:
    """A dataset's or a capture window's summary: its features plus what could not be read, all mergeable."""

    features: list[Feature]
    records: int = 0
    """Capture records read (JSON lines); for a baseline, the rows read."""
    outside_window: int = 0
    """Capture records read whose inferenceTime is outside the window (not analysed)."""
    rows: int = 0
    """Rows of features counted in the statistics."""
    malformed: dict[str, int] = field(default_factory=dict)
    """Records that could not be read, by reason."""
    malformed_examples: list[str] = field(default_factory=list)
    missing_columns: dict[str, int] = field(default_factory=dict)
    """Rows that lacked a baseline column, by the column's name (such rows are left out of the statistics)."""
    extra_columns: dict[str, int] = field(default_factory=dict)
    """Rows that carried columns the baseline does not have, by the column's name or position."""
    rows_left_out: int = 0
    """Rows whose columns do not match the baseline's (counted above by column), left out of the statistics."""

    @classmethod
    def empty_like(cls, specs: list[tuple[str, str]]) -> WindowSummary:
        """An empty summary for features given as (name, "numeric" | "categorical")."""
        return cls([NumericFeature(name) if kind == "numeric" else CategoricalFeature(name) for name, kind in specs])

    @property
    def specs(self) -> list[tuple[str, str]]:
        return [(feature.name, feature.kind) for feature in self.features]

    @property
    def malformed_records(self) -> int:
        return sum(self.malformed.values())

    def feature(self, name: str) -> Feature | None:
        for feature in self.features:
            if feature.name == name:
                return feature
        return None

    def note_malformed(self, reason: str, where: str) -> None:
        count_into(self.malformed, reason)
        if len(self.malformed_examples) < MAX_EXAMPLES:
            self.malformed_examples.append(f"{where}: {reason}")

    def merge(self, other: WindowSummary) -> None:
        if other.specs != self.specs:
            raise DriftInputError(
                "the summaries to merge describe different features "
                f"({', '.join(n for n, _ in self.specs)} vs {', '.join(n for n, _ in other.specs)}); "
                "every shard must be analysed against the same baseline"
            )
        for mine, theirs in zip(self.features, other.features):  # noqa: B905 (Python 3.9 has no strict=)
            mine.merge(theirs)
        self.records += other.records
        self.outside_window += other.outside_window
        self.rows += other.rows
        self.rows_left_out += other.rows_left_out
        for counter, extra in (
            (self.malformed, other.malformed),
            (self.missing_columns, other.missing_columns),
            (self.extra_columns, other.extra_columns),
        ):
            for key, count in extra.items():
                count_into(counter, key, count)
        room = MAX_EXAMPLES - len(self.malformed_examples)
        self.malformed_examples.extend(other.malformed_examples[: max(room, 0)])


def count_into(counter: dict[str, int], key: str, count: int = 1) -> None:
    """Add ``count`` under ``key``, or under ``OTHER_KEYS`` once the counter holds ``MAX_KEYS`` other keys."""
    if key not in counter and len(counter) >= MAX_KEYS:
        key = OTHER_KEYS
    counter[key] = counter.get(key, 0) + count


# ---------------------------------------------------------------------------------------------------------
# statistics.json


def kll_levels(sketch: Any) -> list[list[float]]:
    """The sketch's compactor levels (level i's values each stand for 2**i values), read from its documented
    serial format: the ``data`` of Model Monitor's ``kll.sketch``."""
    raw = bytes(sketch.serialize())
    preamble_ints = raw[0]
    if len(raw) <= 8:
        return []
    if preamble_ints == 2:  # a single value: the preamble, then the value
        return [[struct.unpack_from("<d", raw, 8)[0]]]
    levels_count = raw[18]
    levels = list(struct.unpack_from(f"<{levels_count}I", raw, 20))
    items = np.frombuffer(raw, dtype="<f8", offset=20 + 4 * levels_count + 16)
    bounds = [*levels, levels[0] + len(items)]
    return [items[bounds[i] - levels[0] : bounds[i + 1] - levels[0]].tolist() for i in range(levels_count)]


def even_edges(low: float, high: float, parts: int) -> np.ndarray:
    """``parts + 1`` evenly spaced edges from ``low`` to ``high``, finite even where ``high - low`` is not (from
    -1e308 to 1e308): each edge is then the weighted mean ``low * (1 - t) + high * t``."""
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.linspace(low, high, parts + 1)
    if np.isfinite(edges).all():
        return edges
    share = np.linspace(0.0, 1.0, parts + 1)
    edges = low * (1.0 - share) + high * share
    edges[0], edges[-1] = low, high
    return edges


def histogram(feature: NumericFeature, buckets: int = HISTOGRAM_BUCKETS) -> list[dict[str, float]]:
    """Equal-width buckets between min and max with the sketch's estimated counts."""
    if not feature.present:
        return []
    low, high = feature.minimum, feature.maximum
    if high <= low:
        return [{"lower_bound": low, "upper_bound": high, "count": float(feature.present)}]
    edges = even_edges(low, high, buckets)
    masses = np.asarray(feature.sketch.get_pmf(edges[1:-1].tolist()), dtype=np.float64) * feature.present
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(masses[i])}
        for i in range(buckets)
    ]


def statistics_document(summary: WindowSummary) -> dict[str, Any]:
    """The summary as Model Monitor's statistics.json, with what merging needs under ``driftline`` keys."""
    features = []
    for feature in summary.features:
        common = {"num_present": feature.present, "num_missing": feature.missing}
        if feature.kind == "numeric":
            entry: dict[str, Any] = {
                "name": feature.name,
                "inferred_type": feature.inferred_type,
                "numerical_statistics": {
                    "common": common,
                    "mean": feature.mean,
                    "sum": feature.total if math.isfinite(feature.total) else None,
                    "std_dev": feature.std_dev,
                    "min": feature.minimum if feature.present else 0.0,
                    "max": feature.maximum if feature.present else 0.0,
                    "distribution": {
                        "kll": {
                            "buckets": histogram(feature),
                            "sketch": {
                                "parameters": {"c": KLL_C, "k": float(KLL_K)},
                                "data": kll_levels(feature.sketch),
                            },
                        }
                    },
                },
                "driftline": {
                    "kll_serialized": base64.b64encode(bytes(feature.sketch.serialize())).decode("ascii"),
                    "integral_count": feature.integral,
                    "non_numeric_count": feature.non_numeric,
                },
            }
        else:
            buckets = sorted(feature.counts.items(), key=lambda item: (-item[1], item[0]))
            entry = {
                "name": feature.name,
                "inferred_type": STRING_TYPE,
                "string_statistics": {
                    "common": common,
                    "distinct_count": float(len(feature.counts)),
                    "distribution": {
                        "categorical": {"buckets": [{"value": value, "count": count} for value, count in buckets]}
                    },
                },
            }
        features.append(entry)
    return {
        "version": STATISTICS_VERSION,
        "dataset": {"item_count": summary.rows},
        "features": features,
        "driftline": {
            "records": summary.records,
            "records_outside_window": summary.outside_window,
            "malformed_records": dict(sorted(summary.malformed.items())),
            "malformed_examples": list(summary.malformed_examples),
            "rows_missing_columns": dict(summary.missing_columns),
            "rows_with_extra_columns": dict(summary.extra_columns),
            "rows_left_out": summary.rows_left_out,
            "unrepresentable_statistics": unrepresentable_statistics(summary),
            "kll_rank_error": rank_error(),
        },
    }


def unrepresentable_statistics(summary: WindowSummary) -> list[str]:
    """The statistics no JSON number can hold, which statistics.json gives as null, each with why.

    Means, spreads, minima and maxima always lie between the smallest and largest value, so only a sum can leave
    the range of a double (two values of 1e308 add up to more than the largest double, about 1.8e308).
    """
    return [
        f"{feature.name}: sum is beyond the largest number JSON can hold (about 1.8e308)"
        for feature in summary.features
        if feature.kind == "numeric" and not math.isfinite(feature.total)
    ]


def summary_from_statistics(document: Any, source: str = "statistics.json") -> WindowSummary:
    """Read a statistics.json this module wrote back into a mergeable summary."""
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise DriftInputError(f"{source} is not a statistics document (no 'features' list)")
    features: list[Feature] = []
    for entry in document["features"]:
        name = str(entry.get("name", ""))
        if entry.get("inferred_type") in NUMERIC_TYPES:
            stats = entry.get("numerical_statistics") or {}
            extra = entry.get("driftline") or {}
            if "kll_serialized" not in extra:
                raise DriftInputError(
                    f"{source} has no serialised sketch for feature {name!r}; it was not written by Driftline's "
                    "baseline job: run the baseline job (ml/baseline.py) to create the statistics"
                )
            feature = NumericFeature(name)
            feature.sketch = kll_doubles_sketch.deserialize(base64.b64decode(extra["kll_serialized"]))
            feature.missing = int(stats.get("common", {}).get("num_missing", 0))
            feature.non_numeric = int(extra.get("non_numeric_count", 0))
            feature.integral = int(extra.get("integral_count", 0))
            feature.std = float(stats.get("std_dev") or 0.0)
            feature.mean = float(stats.get("mean") or 0.0)
            total = stats.get("sum", 0.0)
            feature.total = math.nan if total is None else float(total)  # null: a sum beyond any double
            if feature.present:
                feature.minimum, feature.maximum = float(stats["min"]), float(stats["max"])
            features.append(feature)
        elif entry.get("inferred_type") == STRING_TYPE:
            stats = entry.get("string_statistics") or {}
            buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets", [])
            features.append(
                CategoricalFeature(
                    name,
                    counts={str(b["value"]): int(b["count"]) for b in buckets},
                    missing=int(stats.get("common", {}).get("num_missing", 0)),
                )
            )
        else:
            raise DriftInputError(
                f"{source} gives feature {name!r} the type {entry.get('inferred_type')!r}; expected Integral, "
                "Fractional or String"
            )
    extra = document.get("driftline") or {}
    return WindowSummary(
        features,
        records=int(extra.get("records", document.get("dataset", {}).get("item_count", 0))),
        outside_window=int(extra.get("records_outside_window", 0)),
        rows=int(document.get("dataset", {}).get("item_count", 0)),
        malformed={str(k): int(v) for k, v in (extra.get("malformed_records") or {}).items()},
        malformed_examples=[str(e) for e in extra.get("malformed_examples") or []],
        missing_columns={str(k): int(v) for k, v in (extra.get("rows_missing_columns") or {}).items()},
        extra_columns={str(k): int(v) for k, v in (extra.get("rows_with_extra_columns") or {}).items()},
        rows_left_out=int(extra.get("rows_left_out", 0)),
    )


# ---------------------------------------------------------------------------------------------------------
# constraints.json


def completeness(feature: Feature, rows: int) -> float:
    """Share of rows holding a value of the feature's type (a value that is not a number counts as absent)."""
    return feature.present / rows if rows else 0.0


def constraints_document(baseline: WindowSummary, monitoring_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Model Monitor's constraints.json suggested from a baseline: each feature's type and completeness, the
    non-negativity of numbers, the domain of small categorical features, and the monitoring thresholds."""
    features = []
    for feature in baseline.features:
        entry: dict[str, Any] = {
            "name": feature.name,
            "inferred_type": feature.inferred_type,
            "completeness": completeness(feature, baseline.rows),
        }
        if feature.kind == "numeric":
            entry["num_constraints"] = {"is_non_negative": bool(feature.present and feature.minimum >= 0)}
        elif len(feature.counts) <= MAX_DOMAIN_SIZE:
            entry["string_constraints"] = {"domains": sorted(feature.counts)}
        features.append(entry)
    return {"version": STATISTICS_VERSION, "features": features, "monitoring_config": _config(monitoring_config)}


def _config(overrides: dict[str, Any] | None) -> dict[str, Any]:
    config = {**DEFAULT_MONITORING_CONFIG, **(overrides or {})}
    config["distribution_constraints"] = {
        **DEFAULT_MONITORING_CONFIG["distribution_constraints"],
        **((overrides or {}).get("distribution_constraints") or {}),
    }
    return config


def feature_config(constraints: dict[str, Any], name: str) -> dict[str, Any]:
    """The monitoring config for one feature: the document's, with the feature's ``monitoringConfigOverrides``."""
    overrides: dict[str, Any] = {}
    for entry in constraints.get("features") or []:
        if entry.get("name") == name:
            overrides = entry.get("monitoringConfigOverrides") or {}
    base = _config(constraints.get("monitoring_config"))
    merged = {**base, **overrides}
    merged["distribution_constraints"] = {
        **base["distribution_constraints"],
        **(overrides.get("distribution_constraints") or {}),
    }
    return merged


# ---------------------------------------------------------------------------------------------------------
# distances and checks


def numeric_distance(baseline: NumericFeature, current: NumericFeature) -> float:
    """Largest gap between the two CDFs, at the union of both sketches' quantiles (see the module docstring)."""
    ranks = np.linspace(0.0, 1.0, RANK_GRID + 1).tolist()
    points = np.unique(
        np.concatenate(
            [np.asarray(baseline.sketch.get_quantiles(ranks)), np.asarray(current.sketch.get_quantiles(ranks))]
        )
    ).tolist()
    baseline_cdf = np.asarray(baseline.sketch.get_cdf(points))[:-1]
    current_cdf = np.asarray(current.sketch.get_cdf(points))[:-1]
    return float(np.max(np.abs(baseline_cdf - current_cdf)))


def categorical_distance(baseline: CategoricalFeature, current: CategoricalFeature) -> float:
    """L-infinity distance between the normalised frequency vectors over the union of values."""
    n_baseline, n_current = baseline.present, current.present
    values = set(baseline.counts) | set(current.counts)
    return max(
        (abs(baseline.counts.get(v, 0) / n_baseline - current.counts.get(v, 0) / n_current) for v in values),
        default=0.0,
    )


def robust_margin(n: int, m: int) -> float:
    return ROBUST_FACTOR * math.sqrt((n + m) / (n * m))


@dataclass
class FeatureDrift:
    """One feature's comparison: the distance (None when either side has no values) against its threshold."""

    name: str
    kind: str
    distance: float | None
    threshold: float
    method: str
    margin: float
    baseline_count: int
    current_count: int

    @property
    def drifted(self) -> bool:
        return self.distance is not None and self.distance - self.margin > self.threshold


@dataclass
class Analysis:
    features: list[FeatureDrift]
    violations: list[dict[str, str]]
    no_data: bool

    @property
    def drifted_features(self) -> list[str]:
        return [f.name for f in self.features if f.drifted]


def compare(baseline: WindowSummary, constraints: dict[str, Any], current: WindowSummary) -> Analysis:
    """Distances per feature and Model Monitor's violations of ``constraints`` by the current window."""
    if current.specs != baseline.specs:
        raise DriftInputError("the current window was summarised against other features than the baseline's")
    drifts: list[FeatureDrift] = []
    violations: list[dict[str, str]] = []
    evaluate = _config(constraints.get("monitoring_config")).get("evaluate_constraints") != "Disabled"
    rows_read = current.rows + current.rows_left_out
    for name, count in current.missing_columns.items():
        violations.append(
            _violation(
                name,
                "missing_column_check",
                f"{count} of {rows_read} rows lack column {name!r} that the baseline has: they hold fewer values "
                f"than the model's {len(baseline.features)} features; send every feature in the training order",
            )
        )
    for name, count in current.extra_columns.items():
        violations.append(
            _violation(
                name,
                "extra_column_check",
                f"{count} of {rows_read} rows carry column {name!r} that the baseline does not have: they hold more "
                f"values than the model's {len(baseline.features)} features; send only the training features",
            )
        )
    suggested = {str(entry.get("name")): entry for entry in constraints.get("features") or []}
    for base, now in zip(baseline.features, current.features):  # noqa: B905 (Python 3.9 has no strict=)
        config = feature_config(constraints, base.name)
        distribution = config["distribution_constraints"]
        drift = _feature_drift(base, now, distribution)
        drifts.append(drift)
        if not current.rows:
            continue
        constraint = suggested.get(base.name, {})
        violations.extend(_type_and_completeness(base, now, constraint, config, current.rows))
        if base.kind == "categorical" and "string_constraints" in constraint and now.present:
            domain = set(constraint["string_constraints"].get("domains") or [])
            outside = sum(count for value, count in now.counts.items() if value not in domain)
            share = outside / now.present
            if share > float(config["domain_content_threshold"]):
                unknown = sorted((v for v in now.counts if v not in domain), key=lambda v: -now.counts[v])[:3]
                violations.append(
                    _violation(
                        base.name,
                        "categorical_values_check",
                        f"{share:.1%} of its values are outside the baseline's domain (threshold "
                        f"{float(config['domain_content_threshold']):.1%}), for example "
                        f"{', '.join(map(repr, unknown))}",
                    )
                )
        if drift.drifted and distribution.get("perform_comparison") != "Disabled":
            assert drift.distance is not None
            robust = f" minus the Robust margin {drift.margin:.4f}" if drift.margin else ""
            violations.append(
                _violation(
                    base.name,
                    "baseline_drift_check",
                    f"Baseline drift distance: {drift.distance:.4f}{robust} exceeds threshold: {drift.threshold} "
                    f"({drift.method}, {drift.baseline_count} baseline and {drift.current_count} current values)",
                )
            )
    return Analysis(drifts, violations if evaluate else [], no_data=current.rows == 0)


def _feature_drift(base: Feature, now: Feature, distribution: dict[str, Any]) -> FeatureDrift:
    n, m = base.present, now.present
    if base.kind == "numeric":
        threshold = float(distribution["comparison_threshold"])
        method = str(distribution.get("comparison_method") or "Robust")
        if method not in ("Simple", "Robust"):
            raise DriftInputError(
                f"comparison_method {method!r} in constraints.json is not Simple or Robust; fix the baseline's "
                "constraints.json"
            )
        distance = numeric_distance(base, now) if n and m else None
        margin = robust_margin(n, m) if method == "Robust" and n and m else 0.0
        return FeatureDrift(base.name, base.kind, distance, threshold, f"KS, {method}", margin, n, m)
    method = str(distribution.get("categorical_drift_method") or "LInfinity")
    if method != "LInfinity":
        raise DriftInputError(
            f"categorical_drift_method {method!r} is not supported; set it to LInfinity in the baseline's "
            "constraints.json"
        )
    distance = categorical_distance(base, now) if n and m else None
    threshold = float(distribution["categorical_comparison_threshold"])
    return FeatureDrift(base.name, base.kind, distance, threshold, "LInfinity", 0.0, n, m)


def _type_and_completeness(
    base: Feature, now: Feature, constraint: dict[str, Any], config: dict[str, Any], rows: int
) -> list[dict[str, str]]:
    found = []
    expected_type = str(constraint.get("inferred_type") or base.inferred_type)
    typed = now.present + now.non_numeric
    if expected_type in NUMERIC_TYPES and typed:
        matching = now.integral if expected_type == "Integral" else now.present
        share = matching / typed
        allowed = float(config["datatype_check_threshold"])
        if 1.0 - share > allowed:
            found.append(
                _violation(
                    base.name,
                    "data_type_check",
                    f"Data type match requirement is not met. Expected data type: {expected_type}, expected match: "
                    f"{1.0 - allowed:.1%}. Observed: only {share:.1%} of the values are {expected_type}",
                )
            )
    expected = constraint.get("completeness")
    if expected is not None:
        observed = now.present / rows
        if observed < float(expected):
            found.append(
                _violation(
                    base.name,
                    "completeness_check",
                    f"Data completeness requirement is not met. Expected completeness: {float(expected):.1%}. "
                    f"Observed completeness: {observed:.1%} ({rows - now.present} of {rows} rows without a value)",
                )
            )
    return found


def _violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def violations_document(analysis: Analysis) -> dict[str, Any]:
    return {"violations": analysis.violations}


# ---------------------------------------------------------------------------------------------------------
# CloudWatch metrics


def metric_name(feature: str) -> str:
    return f"feature_baseline_drift_{feature}"


def metric_data(analysis: Analysis, endpoint: str, schedule: str, timestamp: str) -> list[dict[str, Any]]:
    """PutMetricData ``MetricData`` entries: ``feature_baseline_drift_<feature>`` per feature with a distance,
    with the dimensions Endpoint and MonitoringSchedule (each only when known; CloudWatch refuses empty
    values). A window without data publishes nothing: no data is not "no drift"."""
    dimensions = [
        {"Name": name, "Value": value} for name, value in (("Endpoint", endpoint), ("MonitoringSchedule", schedule))
    ]
    dimensions = [d for d in dimensions if d["Value"]]
    return [
        {
            "MetricName": metric_name(drift.name),
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": drift.distance,
            "Unit": "None",
        }
        for drift in analysis.features
        if drift.distance is not None and not analysis.no_data
    ]
