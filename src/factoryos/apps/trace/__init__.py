"""Quality traceability: GS1 identifiers (check digits, Digital Link URIs, EPC URNs)."""
