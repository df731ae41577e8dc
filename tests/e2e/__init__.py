"""End-to-end tests: a real Home Assistant and the simulator as separate processes."""
