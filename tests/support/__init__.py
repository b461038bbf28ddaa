"""Helpers shared by test suites (no Django imports here)."""
