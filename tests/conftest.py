from tests.servers import redis_url  # noqa: F401  (a fixture for every test module)
