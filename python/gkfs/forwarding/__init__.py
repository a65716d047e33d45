"""Forwarding mode (GekkoFWD-style I/O nodes), the pure-Python half.

* mapfile.py: the map file (`hostname io_node_index` per line): read, write atomically,
  notice changes.
* policies.py: who gets which I/O node: static blocks, round-robin, arbitration (a
  multiple-choice knapsack over per-job bandwidth curves) and user plug-ins; what
  `gkfs-ctl fwd-map` runs.
* scheduling/: the I/O node's request schedulers and their contract with the C++ side.

docs/forwarding.md is the long form.
"""
