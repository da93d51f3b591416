"""Build the optional C extensions; all other metadata lives in pyproject.toml.

``autosoc.normalize._flatten`` speeds up the per-event flattening, ``autosoc.normalize._columns``
the building of the raw frame, the rows' JSON and their ids, ``autosoc.normalize._decode`` both at
once straight from the JSON lines of Windows events (it shares ``_rowbuf.h`` with ``_columns``);
``autosoc.detect.sigma._match`` tests rules, ``autosoc.detect.sigma._lines`` writes signals as
JSON lines and ``autosoc.detect.sigma._lower`` makes the rules' lower-cased copies of fields, all on
Arrow columns in place (``_arrow.h``).
All are optional: without a C compiler the install still succeeds and
:mod:`autosoc.normalize.flatten` and :mod:`autosoc.normalize.columns` use their pure-Python code.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            f"autosoc.normalize.{name}",
            sources=[f"src/autosoc/normalize/{name}.c"],
            depends=[f"src/autosoc/normalize/{h}.h" for h in ("_rowbuf", "_blake2b", "_json_escape")],
            extra_compile_args=["-O2"],
            optional=True,
        )
        for name in ("_flatten", "_columns", "_decode")
    ]
    + [
        Extension(
            f"autosoc.detect.sigma.{name}",
            sources=[f"src/autosoc/detect/sigma/{name}.c"],
            depends=["src/autosoc/detect/sigma/_arrow.h", "src/autosoc/normalize/_blake2b.h",
                     "src/autosoc/normalize/_json_escape.h"],
            extra_compile_args=["-O2"],
            optional=True,
        )
        for name in ("_match", "_lines", "_lower")
    ]
)
