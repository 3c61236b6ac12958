"""The grid core: a model built once (``GridModel``, ``Layout``) and the step run over it
(``GridCore``), shared by every mode and by the batched env."""
from powergrid.core.config import DEFAULTS, validated_config
from powergrid.core.layout import Layout
from powergrid.core.model import DeviceSpec, GridModel, Microgrid
from powergrid.core.step import GridCore

__all__ = ["DEFAULTS", "validated_config", "GridModel", "Microgrid", "DeviceSpec", "Layout", "GridCore"]
