import os
import tempfile

import pytest

from tests.servers import kafka_servers, redis_tls, redis_url  # noqa: F401  (fixtures for every test module)


# Built models go to a folder of this run's (site processes the tests start inherit it), not to
# the user's cache; tests of the cache itself point it elsewhere.
os.environ["POWERGRID_CACHE"] = tempfile.mkdtemp(prefix="powergrid-cache-")


def pytest_collection_modifyitems(config, items):
    """Every test that talks to Kafka is slow (a Tansu server, consumer groups, seconds a test):
    ``pytest -m "not slow"`` leaves them out; the others carry ``@pytest.mark.slow`` themselves."""
    for item in items:
        if "kafka" in item.name.lower() or "kafka_servers" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
