"""Execution: from a config to records.

``config`` + ``profiles`` say what to run; ``planning`` validates it all and lists the cells
(writing nothing); ``tasks`` stores arrays and features once and makes each cell's task; the
``executor`` runs each task isolated with a hard timeout (the seam for other engines); ``cell``
is what runs inside that process; ``driver`` ties it together and appends the records.
``timing`` and ``provenance`` measure speed and record where a run ran.
"""
