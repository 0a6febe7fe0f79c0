"""Data in and out: every list exported as CSV or XLSX; organisations and contacts imported from a file."""
