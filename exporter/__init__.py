"""training-eta-exporter: follow a training log, estimate when it finishes, explain why it is slow."""

__version__ = "0.1.0"
