"""hybench: classical-plus-deep hybrid benchmarking for image classification."""

__version__ = "0.1.0"
