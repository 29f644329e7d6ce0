"""Every report's markdown: a module here makes the tables of a report's figures (their one
shape from loadtests/tables.py) and fills in its text, the Jinja template `<report>.md`."""
