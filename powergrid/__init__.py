"""PowerGrid: HERON's power-distribution case study (networks, power flow, devices, envs)."""
