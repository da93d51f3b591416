"""Build the optional C extension; all other metadata lives in pyproject.toml.

``autosoc.normalize._flatten`` speeds up the per-event flattening.  It is optional: without a C
compiler the install still succeeds and :mod:`autosoc.normalize.flatten` uses its pure-Python code.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "autosoc.normalize._flatten",
            sources=["src/autosoc/normalize/_flatten.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
