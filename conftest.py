# Collects cases/*.yaml as parity tests (one item per case, framework and forward|grad).
pytest_plugins = ["harness.pytest_plugin"]
