"""I/O-node request schedulers (AGIOS-style) behind a small plug-in contract.

* contract.py: Request, Queues, Completion and the Scheduler base class (the contract).
* host.py: SchedulerHost, what the C++ dispatcher calls (checks batches, never stalls I/O).
* config.py (+ libconfig.py): agios.conf keys and syntax -> SchedulerConfig.
* timeorder.py (NOOP, TO, TO-agg), sjf.py, mlf.py, aioli.py, windows.py (SW, TWINS),
  wfq.py: the built-in schedulers; aggregation.py and waiting.py: what they share.
* registry.py: built-in names, `module:Class` and entry points -> scheduler classes.
* simulate.py: the reference dispatcher on a virtual clock (the dispatcher's spec).
"""

from gkfs.forwarding.scheduling.config import (CONFIG_ENV, ConfigError, SchedulerConfig,
                                               load_config, parse_config)
from gkfs.forwarding.scheduling.contract import (READ, WRITE, Batch, Completion, ContractError,
                                                 Queues, Request, Scheduler)
from gkfs.forwarding.scheduling.host import SchedulerHost
from gkfs.forwarding.scheduling.registry import builtin_names, create, resolve

__all__ = [
    "CONFIG_ENV",
    "READ",
    "WRITE",
    "Batch",
    "Completion",
    "ConfigError",
    "ContractError",
    "Queues",
    "Request",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerHost",
    "builtin_names",
    "create",
    "load_config",
    "parse_config",
    "resolve",
]
