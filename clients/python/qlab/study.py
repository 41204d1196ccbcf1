"""Studies (sweeps with `search`, DESIGN §10): the part of submitting one that happens on the
client, as `qlab submit` does it (cli/study_command.cc).

A `per: tensor` or `per: layer` entry of search.space needs the model's block-linear names (or
layer globs); the coordinator never opens model files, so the client lists them from the
model's llama2.c header or config.json and sends them as `genes`.
"""
import json
import os
import struct

# Block linears in the order the accuracy evaluator lists them (evaluators/accuracy/checkpoint.cc:
# llama2.c file order, every layer of one kind before the next kind).
_BLOCK_LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                  "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj")
_MAX_LAYERS = 100_000


def _locate(model, sweep_path):
    """The model as written when it exists from here, else from the sweep file's folder up."""
    if os.path.isabs(model) or os.path.exists(model) or not sweep_path:
        return model
    folder = os.path.dirname(os.path.abspath(str(sweep_path)))
    while True:
        candidate = os.path.join(folder, model)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return model
        folder = parent


def _layer_count(model):
    if os.path.isdir(model):
        model = os.path.join(model, "config.json")
    with open(model, "rb") as f:
        head = f.read(1 << 20)
    if model.endswith(".json"):
        config = json.loads(head.decode("utf-8"))
        layers = config.get("num_hidden_layers", config.get("n_layers"))
    else:
        if len(head) < 28:
            raise ValueError(f"'{model}' is too short for a llama2.c header")
        layers = struct.unpack("<7i", head[:28])[2]
    if not isinstance(layers, int) or not 0 < layers <= _MAX_LAYERS:
        raise ValueError(f"'{model}' declares {layers!r} layers")
    return layers


def fill_study_genes(spec, sweep_path=None):
    """Adds `genes` to each search.space entry with per: tensor|layer and none (in place)."""
    search = spec.get("search")
    if not isinstance(search, dict) or not isinstance(search.get("space"), dict):
        return spec
    for param, entry in search["space"].items():
        if not isinstance(entry, dict) or "genes" in entry or entry.get("per") not in ("tensor", "layer"):
            continue
        model = (spec.get("params") or {}).get("model")
        if not isinstance(model, str):
            raise ValueError(f"search.space.{param}.per: {entry['per']} needs params.model "
                             "(the model whose tensors to list)")
        layers = _layer_count(_locate(model, sweep_path))
        if entry["per"] == "layer":
            entry["genes"] = [f"model.layers.{l}.*" for l in range(layers)]
        else:
            entry["genes"] = [f"model.layers.{l}.{what}.weight"
                              for what in _BLOCK_LINEARS for l in range(layers)]
    return spec
