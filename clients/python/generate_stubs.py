#!/usr/bin/env python3
"""Generates the gRPC stubs of proto/qlab/v1 into qlab/v1/ beside this file.

The stubs are never committed: `pip install`, `scripts/setup` and the CMake build each run this,
so the Python client always speaks the protos of its own checkout. It uses Debian's `protoc`
(protobuf-compiler) and gRPC's Python plugin (`grpc_python_plugin`, protobuf-compiler-grpc),
the same compilers that build the C++ stubs.

    python3 generate_stubs.py [--proto-dir DIR] [--out-dir DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))
PROTO_PACKAGE = os.path.join("qlab", "v1")


def _proto_files(proto_dir):
    package_dir = os.path.join(proto_dir, PROTO_PACKAGE)
    if not os.path.isdir(package_dir):
        raise SystemExit(f"generate_stubs: no {PROTO_PACKAGE}/ under {proto_dir}")
    return sorted(os.path.join(PROTO_PACKAGE, name) for name in os.listdir(package_dir)
                  if name.endswith(".proto"))


def _up_to_date(proto_dir, out_dir, protos):
    newest_input = max(os.path.getmtime(os.path.join(proto_dir, p)) for p in protos)
    newest_input = max(newest_input, os.path.getmtime(os.path.abspath(__file__)))
    for proto in protos:
        stem = proto[:-len(".proto")]
        for suffix in ("_pb2.py", "_pb2_grpc.py"):
            path = os.path.join(out_dir, stem + suffix)
            if not os.path.exists(path) or os.path.getmtime(path) < newest_input:
                return False
    return True


def generate(proto_dir=DEFAULT_PROTO_DIR, out_dir=HERE, force=False):
    """Writes qlab/v1/*_pb2.py and *_pb2_grpc.py under out_dir; returns the generated paths."""
    protos = _proto_files(proto_dir)
    if not force and _up_to_date(proto_dir, out_dir, protos):
        return []
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        missing = [name for name, path in (("protoc (Debian protobuf-compiler)", protoc),
                                           ("grpc_python_plugin (Debian protobuf-compiler-grpc)",
                                            plugin)) if path is None]
        raise SystemExit("generate_stubs: not found: " + ", ".join(missing))
    target = os.path.join(out_dir, PROTO_PACKAGE)
    os.makedirs(target, exist_ok=True)
    subprocess.run([protoc, f"--proto_path={proto_dir}", f"--python_out={out_dir}",
                    f"--grpc_out={out_dir}", f"--plugin=protoc-gen-grpc={plugin}", *protos],
                   check=True)
    with open(os.path.join(target, "__init__.py"), "w") as init:
        init.write('"""Generated from proto/qlab/v1 by generate_stubs.py; do not edit."""\n')
    return [os.path.join(out_dir, p[:-len(".proto")] + s) for p in protos
            for s in ("_pb2.py", "_pb2_grpc.py")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto-dir", default=DEFAULT_PROTO_DIR)
    parser.add_argument("--out-dir", default=HERE)
    parser.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = parser.parse_args(argv)
    written = generate(args.proto_dir, args.out_dir, args.force)
    print(f"generate_stubs: {len(written)} files written" if written else
          "generate_stubs: stubs up to date")


if __name__ == "__main__":
    sys.exit(main())
