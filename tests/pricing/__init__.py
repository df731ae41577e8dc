"""Tests of the integration's pricing package."""
