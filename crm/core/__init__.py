"""Concepts every domain shares: labelled enums, confidentiality, and who may see what.

Nothing here imports a domain package; every domain may import from here.
"""
