"""Tests that need the newest Home Assistant release (its own environment)."""
