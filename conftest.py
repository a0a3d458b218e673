# The pytest plugin that collects case files is registered by the package's `pytest11` entry
# point (pyproject.toml), so it needs no conftest: `make test` installs the package first.
