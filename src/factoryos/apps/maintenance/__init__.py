"""Predictive maintenance: anomaly detection, remaining useful life, work orders."""
