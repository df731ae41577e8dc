"""The customer's tariff: its problems, and the tariff settings page (Flatpeak Connect)."""
