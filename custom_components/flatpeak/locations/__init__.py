"""Followed locations: their coordinators, devices and lifecycle."""
