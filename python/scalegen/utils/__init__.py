"""Shared helpers of the Python API: estimator base, validation, random states."""
