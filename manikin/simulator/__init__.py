"""CPR trace simulator with ground truth (see ``core`` for the model)."""

from .core import CLEAN, NOISY, PROFILES, SimParams, SimTrace, SimTruth, simulate, simulate_chunks

__all__ = ["CLEAN", "NOISY", "PROFILES", "SimParams", "SimTrace", "SimTruth", "simulate",
           "simulate_chunks"]
