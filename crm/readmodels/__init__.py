"""Read models that cross domains (a partner's timeline; later the home page, search and the AES view).

They read meetings, visits and commitments together and write nothing; no domain imports them.
"""
