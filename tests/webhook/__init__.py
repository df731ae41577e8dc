"""Tests of the integration's webhook package."""
