"""Utilities kept at the earlier HERON/PowerGrid's module paths."""
