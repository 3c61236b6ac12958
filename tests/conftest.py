from tests.servers import kafka_servers, redis_tls, redis_url  # noqa: F401  (fixtures for every test module)
