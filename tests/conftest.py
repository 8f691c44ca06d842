pytest_plugins = [
    "tests.fixtures.ferretdb",
    "tests.fixtures.broker",
    "tests.fixtures.cluster",
    "tests.fixtures.soak",
]
