"""`python -m nstcli` runs the same Typer app as the `nst` console script."""

from nstcli.cli.app import main

if __name__ == "__main__":
    main()
