"""The render farm: a batch's jobs on a Ray cluster (optional extra ``cluster``).

Importing this package does not import Ray; connecting does (:func:`connect`).
"""

from studio.farm.driver import Farm, FarmError, connect, run_on_cluster

__all__ = ["Farm", "FarmError", "connect", "run_on_cluster"]
