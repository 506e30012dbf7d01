"""Applications built on the platform: OEE, maintenance, scheduling, traceability."""
