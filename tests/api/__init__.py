"""Tests for the Home Assistant-free Flatpeak client."""
