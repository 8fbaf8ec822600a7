"""The render farm: a batch's jobs on a Ray cluster (optional extra ``cluster``).

Importing this package does not import Ray; connecting does (:func:`connect`).
"""

from studio.farm.driver import Farm, FarmError, connect, run_on_cluster
from studio.farm.runner import ClusterRunner

__all__ = ["ClusterRunner", "Farm", "FarmError", "connect", "run_on_cluster"]
