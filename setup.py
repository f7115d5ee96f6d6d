"""Package layout for sockjs-cyclone; the metadata lives in pyproject.toml.

``sockjs`` is a PEP 420 namespace package (it has no ``__init__.py``), so that
other ``sockjs.*`` distributions can share it.  Only its subpackages are ours.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=find_namespace_packages(include=["sockjs.*"]),
    package_data={
        "sockjs.addons": ["py.typed"],
        "sockjs.cyclone": ["py.typed"],
        "sockjs.protocol": ["py.typed"],
    },
    zip_safe=False,
)
