"""GS1 EPCIS 2.0: documents validated against the official schema, events captured and
queried (see docs/trace.md)."""
