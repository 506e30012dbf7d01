"""OEE: ISO 22400-2 KPIs, a configurable loss taxonomy and part counters (pure logic)."""
