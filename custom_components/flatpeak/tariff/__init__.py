"""tariff."""
