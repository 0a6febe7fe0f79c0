"""`make bench`: the app measured over HTTP under its production server, beside a floor, against budgets.

data.py builds the database, wsgi.py is the app with bench-only probes, floor.py the floor app, client.py the
HTTP client, __main__.py runs it all and prints the tables (see docs/performance.md).
"""
