"""Tests of the integration's tariff package."""
