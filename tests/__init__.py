"""Tests for the Flatpeak integration."""
