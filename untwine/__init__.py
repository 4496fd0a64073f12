"""untwine: disentangled representation learning, unsupervised and weakly supervised, and its evaluation."""

__version__ = "0.1.0"
