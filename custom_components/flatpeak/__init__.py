"""The Flatpeak integration."""
