"""The earlier HERON/PowerGrid's module path of device states."""
