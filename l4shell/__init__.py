"""l4shell package."""
