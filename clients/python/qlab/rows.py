"""Rows: lists of plain dicts (JSON-shaped) that turn into pandas DataFrames on request."""
import json
import math


class Rows(list):
    """A list of row dicts, as `qlab results --json` prints them, with `to_pandas()`.

    Nested `params` and `metrics` objects become columns of their own: a param or metric named
    like a row field or like each other is prefixed (`params.x`, `metrics.x`), every other one
    keeps its plain name, so `df.plot.scatter(x="bits_per_weight", y="mse")` works. List values
    (a `shape`) become tuples so the columns can be grouped on.
    """

    def to_pandas(self):
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas() needs pandas (Debian: python3-pandas)") from None
        flat_rows = [_flatten(row) for row in self]
        columns = []
        seen = set()
        for flat in flat_rows:
            for name in flat:
                if name not in seen:
                    seen.add(name)
                    columns.append(name)
        return pandas.DataFrame.from_records(flat_rows, columns=columns)


class JoinedRows(Rows):
    """The pairs of a join (`qlab results --join B --on KEYS --json`): one row per pair,
    {"on", "job_id_a", "job_id_b", "state_a", "state_b", "metrics"}, metric names both
    experiments have written "A:name" / "B:name". The rows without a partner are in
    unmatched_a and unmatched_b ({"job_id", "state", "on"}); to_json() gives the CLI's object.
    """

    def __init__(self, rows, experiment, join, on, metric_names, unmatched_a, unmatched_b):
        super().__init__(rows)
        self.experiment, self.join, self.on = experiment, join, on
        self.metric_names = metric_names
        self.unmatched_a, self.unmatched_b = unmatched_a, unmatched_b

    def to_json(self):
        return {"experiment": self.experiment, "join": self.join, "on": self.on,
                "metric_names": self.metric_names, "rows": list(self),
                "unmatched_a": self.unmatched_a, "unmatched_b": self.unmatched_b}


_NESTED = ("params", "on", "metrics")


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def _flatten(row):
    plain = {k: v for k, v in row.items() if k not in _NESTED}
    nested = {k: row[k] for k in _NESTED if isinstance(row.get(k), dict)}
    names = [name for values in nested.values() for name in values]
    clashing = {n for n in names if names.count(n) > 1 or n in plain}
    flat = dict(plain)
    for group, values in nested.items():
        for name, value in values.items():
            flat[f"{group}.{name}" if name in clashing else name] = _hashable(value)
    return flat


def json_number(value):
    """A metric value as the CLI's JSON writer prints it: NaN and infinities become null."""
    return value if math.isfinite(value) else None


def parse_params(params_json):
    """A job's params object; the raw text when it is not JSON (never expected)."""
    try:
        return json.loads(params_json) if params_json else {}
    except json.JSONDecodeError:
        return params_json
