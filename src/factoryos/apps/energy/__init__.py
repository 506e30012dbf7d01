"""Energy management and carbon accounting.

Metering (energy from meter counters or by integrating power, attributed to shifts, orders,
products and machine states), peak demand and load profile, compressed-air analysis, the
ISO 14064-1 inventory with a versioned emission-factor library, product carbon footprints
and their export in the PACT data model. The formulas are pure functions (:mod:`.metering`,
:mod:`.demand`, :mod:`.inventory`, :mod:`.footprint`); units go through :mod:`.units`.
"""
