pytest_plugins = ["tests.fixtures.ferretdb", "tests.fixtures.broker", "tests.fixtures.soak"]
