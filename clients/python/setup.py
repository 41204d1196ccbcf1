"""Builds the qlab package; its gRPC stubs are generated from ../../proto as part of the build.

Offline (no package index), build with the system's setuptools:
    pip install --no-build-isolation clients/python
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_stubs  # noqa: E402


class BuildWithStubs(build_py):
    def run(self):
        generate_stubs.generate()
        super().run()


setup(packages=["qlab", "qlab.v1"], cmdclass={"build_py": BuildWithStubs})
