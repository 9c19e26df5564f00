"""The one build step pyproject.toml cannot declare: durable-rules for Python 3.13 and later.

durable-rules 2.0.28 (the last release, 2020) calls `PyEval_CallObject`, which Python 3.13
removed, so PyPI's release builds there but fails on import. From 3.13 on this project builds the
release's source from vendor/durable_rules/ (with upstream's fix, see its README.md) into its own
wheel: the `durable` package and the `durable_rules_engine` C extension, the same modules PyPI's
release installs. Before 3.13 the dependency `durable-rules==2.0.28; python_version < "3.13"`
installs PyPI's release and nothing is built here. The cut-off below and that marker must agree
(tests/test_durable_build.py checks both on the interpreter that runs the tests).
"""

import sys

from setuptools import Extension, setup
from setuptools.dist import Distribution

VENDORED = sys.version_info >= (3, 13)
SOURCE = "vendor/durable_rules"
RULES_C = ("json", "rete", "state", "events", "regex")


class Dist(Distribution):
    """Adds the vendored `durable` package where it is built (pyproject.toml lists the engine's
    packages; [tool.setuptools] is applied after setup()'s arguments, so it is added afterwards),
    and tags every wheel for the interpreter that built it: a wheel built on 3.11 (without
    durable-rules, which PyPI supplies there) must not install on 3.13."""

    def parse_config_files(self, *args, **kwargs):
        super().parse_config_files(*args, **kwargs)
        if VENDORED and "durable" not in (self.packages or []):
            self.packages = [*(self.packages or []), "durable"]
            self.package_dir = {**(self.package_dir or {}), "durable": f"{SOURCE}/libpy/durable"}

    def has_ext_modules(self):
        return True


def extensions() -> list[Extension]:
    if not VENDORED:
        return []
    flags = ["-std=c99", "-D_GNU_SOURCE"] + (["-fcommon"] if sys.platform == "darwin" else [])  # as the release's setup.py
    return [Extension(
        "durable_rules_engine",
        sources=[f"{SOURCE}/src/rulespy/rules.c"] + [f"{SOURCE}/src/rules/{name}.c" for name in RULES_C],
        include_dirs=[f"{SOURCE}/src/rules"],
        extra_compile_args=[] if sys.platform == "win32" else flags,
    )]


setup(distclass=Dist, ext_modules=extensions())
