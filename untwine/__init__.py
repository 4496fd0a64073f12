"""untwine: disentangled representation learning, unsupervised and weakly supervised, and its evaluation."""

import os

# How idle OpenMP threads wait between parallel regions (benchmarks/README.md). Spinning without end
# (libgomp's default, 300k spins) collapses when the machine is busier than its cores: on a shared
# 2-core machine under load ~6-10, training with 2 torch threads ran 4-5x slower spinning than
# sleeping. Sleeping at once (PASSIVE) costs a wake-up per parallel region: with bf16 steps of a few
# hundred short regions that was 20-25% of a step on a quiet machine. So threads spin briefly
# (GOMP_SPINCOUNT=10000, a few microseconds) and then sleep: as fast as spinning when quiet, no slower
# than sleeping under load. No numbers change. This only takes effect when untwine is imported
# before torch (as by the ``untwine`` command); set either variable yourself to override.
if "OMP_WAIT_POLICY" not in os.environ:  # a policy of the user's own is left as it is
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

__version__ = "0.1.0"
