"""Async client for the Flatpeak API, free of Home Assistant."""
