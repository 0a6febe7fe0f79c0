"""One search box over everything: the index, kept in step with every write, and its pages."""
