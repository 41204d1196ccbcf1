"""Sweep files (YAML or JSON) to the JSON the coordinator takes, read exactly as `qlab submit`.

The scalar rules are the CLI's (cli/sweep_file.cc), not PyYAML's YAML 1.1 ones, so one file means
the same sweep from either client: a quoted scalar is a string; `null`, `~` and the empty
scalar are null; `true|True|TRUE` and `false|False|FALSE` are booleans; a whole base-10
integer within int64 is an integer; anything else that reads whole as a C `strtod` number is a
float (NaN and infinities become null, as the CLI's JSON writer makes them); the rest are
strings. So `yes`, `on` and `1_000` stay strings here, as they do in the CLI.
"""
import json
import math
import os
import re

import yaml

from .errors import InvalidSweep

_INT = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)([pP][+-]?[0-9]+)?\Z")
_SPECIAL = re.compile(r"[+-]?(inf|infinity|nan(\([0-9A-Za-z_]*\))?)\Z", re.IGNORECASE)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _finite_or_none(value):
    return value if math.isfinite(value) else None


def _plain_scalar(text):
    if text in ("null", "~", ""):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text) and _INT64_MIN <= int(text) <= _INT64_MAX:
        return int(text)
    if _INT.match(text) or _DECIMAL.match(text):
        return _finite_or_none(float(text))
    if _HEX.match(text):
        sign = -1.0 if text.startswith("-") else 1.0
        return _finite_or_none(sign * float.fromhex(text.lstrip("+-")))
    if _SPECIAL.match(text):
        return None
    return text


def _node_to_value(node):
    if isinstance(node, yaml.ScalarNode):
        # Quoted and block scalars carry a style; only plain ones are typed by their text.
        return node.value if node.style else _plain_scalar(node.value)
    if isinstance(node, yaml.SequenceNode):
        return [_node_to_value(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key, value in node.value:
            key_text = key.value if isinstance(key, yaml.ScalarNode) else yaml.serialize(key).strip()
            out[key_text] = _node_to_value(value)
        return out
    return None


def sweep_text_to_dict(text):
    """Parses a sweep's YAML or JSON text. Raises InvalidSweep with the line for bad text."""
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text, parse_constant=lambda _: None)
        except json.JSONDecodeError as e:
            raise InvalidSweep(f"sweep file is not valid JSON: line {e.lineno}, column {e.colno}: "
                               f"{e.msg}") from None
    else:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise InvalidSweep(f"sweep file is not valid YAML: {where}"
                               f"{getattr(e, 'problem', None) or e}") from None
        value = _node_to_value(node) if node is not None else None
    if not isinstance(value, dict):
        raise InvalidSweep("sweep file must be a mapping (name, kind, ...)")
    return value


def load_sweep(sweep):
    """A sweep given as a dict, or as the path (str or os.PathLike) of a YAML or JSON file."""
    if isinstance(sweep, dict):
        return dict(sweep)
    if isinstance(sweep, (str, os.PathLike)):
        path = os.fspath(sweep)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise FileNotFoundError(f"cannot read sweep file '{path}': {e.strerror}") from None
        try:
            return sweep_text_to_dict(text)
        except InvalidSweep as e:
            raise InvalidSweep(f"{path}: {e.message}") from None
    raise TypeError(f"a sweep is a dict or a file path, not {type(sweep).__name__}")


def sweep_to_json(sweep):
    """Compact JSON of a sweep dict, refusing NaN and infinities as the coordinator would."""
    try:
        return json.dumps(sweep, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise InvalidSweep(f"sweep cannot be written as JSON: {e}") from None
