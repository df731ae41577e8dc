"""Tests of the integration's locations package."""
