"""The compiled stream kernel (runtime/stream/_kernel.pyx, Cython → C, built by pip with the
machine's C compiler). Everything else is in pyproject.toml."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("skewless.runtime.stream._kernel", ["runtime/stream/_kernel.pyx"], extra_compile_args=["-O2"],
               optional=True)],  # no C compiler: the stream runs its Python state (slower, same values)
    language_level=3, compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True}))
