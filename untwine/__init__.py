"""untwine: disentangled representation learning, unsupervised and weakly supervised, and its evaluation."""

import os

# OpenMP threads that spin while waiting (libgomp's default) collapse when the machine is busier than
# its cores: on a shared 2-core machine under load ~6-10, beta-VAE training with 2 torch threads ran
# 4-5x slower spinning than sleeping (benchmarks/README.md). Sleeping waits change no numbers. This
# only takes effect when untwine is imported before torch (as by the ``untwine`` command); set
# OMP_WAIT_POLICY=ACTIVE yourself to keep spinning.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
