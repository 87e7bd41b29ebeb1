"""Text tables and (with matplotlib) plots of results."""
