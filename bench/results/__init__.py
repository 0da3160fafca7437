"""Results: what a run leaves behind and how it is read back.

``records`` (one immutable JSON record per cell, append-only), ``run_dir`` (the owner of a run
directory's paths and files), ``metrics`` (record metrics, scikit-learn), ``statistics``
(vectorised bootstrap, paired tests, McNemar), ``cell_stats`` (per-cell statistics, cached) and
``runs`` (load, validate and merge run directories).
"""

from hybench.results.run_dir import RunDirectory
from hybench.results.runs import Run, RunSet, load_runs

__all__ = ["Run", "RunDirectory", "RunSet", "load_runs"]
