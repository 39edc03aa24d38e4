"""The optional C kernel of the checkpoint statistics (everything else is in pyproject.toml).

forensics/_tensorkernel.c folds a float32 or bfloat16 chunk in one pass. It is optional:
without a C compiler the build skips it and forensics/readers/tensorstats.py uses its numpy
passes, with the same figures, at about 0.7 of the speed.
"""

import sys

from setuptools import Extension, setup

# The float64 sums may be reassociated (vectorised); NaN and infinities are still seen
# (no -ffinite-math-only): the kernel relies on a non-finite sum to find them.
FLAGS = (
    []
    if sys.platform == "win32"
    else ["-O3", "-fno-math-errno", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math"]
)

setup(
    ext_modules=[
        Extension("forensics._tensorkernel", ["forensics/_tensorkernel.c"], extra_compile_args=FLAGS, optional=True)
    ]
)
