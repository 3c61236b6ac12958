"""Device features kept at the earlier HERON/PowerGrid's module paths (balanced models only)."""
