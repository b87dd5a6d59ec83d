"""Generate the protobuf/gRPC code from proto/ whenever the project is built or installed.

Generated modules land in paht/<service>/v1/ and are never committed (see .gitignore).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.develop import develop
from setuptools.command.egg_info import egg_info

from paht_build import generate_protos


class BuildPyWithProtos(build_py):
    def run(self):
        generate_protos()
        super().run()


class DevelopWithProtos(develop):
    def run(self):
        generate_protos()
        super().run()


class EggInfoWithProtos(egg_info):
    def run(self):
        generate_protos()
        super().run()


setup(cmdclass={"build_py": BuildPyWithProtos, "develop": DevelopWithProtos, "egg_info": EggInfoWithProtos})
