"""The partner directory: countries, organisations, contacts, their positions, and the institutions (ours)."""
