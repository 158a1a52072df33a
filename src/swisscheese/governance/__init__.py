"""Governance: the framework, safety cases and incidents as data, checked against recorded
evidence."""
