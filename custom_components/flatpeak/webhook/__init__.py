"""The push flow: webhook deliveries and catch-up, down to the one door events enter by."""
