"""Numba kernels of the hot paths. Plain arrays in, plain arrays out: no Python objects."""
