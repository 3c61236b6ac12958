"""The grid core: a model built once (:mod:`powergrid.core.model`, :mod:`powergrid.core.layout`)
and the step run over it (:mod:`powergrid.core.step`), shared by every mode and by the batched
env. The package imports none of its modules itself, so the device agents can use its small
ones (``safety``, ``features``) without building the core."""
