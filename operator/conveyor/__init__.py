"""Conveyor: deployment workflows on Kubernetes, admitted under strict rules."""

__version__ = "0.1.0"
