"""The `nst` command line: a thin Typer layer over `nstcli.engine`.

`app.py` assembles the commands; each command module imports only the engine and the
shared option and output helpers here, never this package's `__init__` or each other
through it.
"""
