"""`python -m tests.bot.stub_cli serve-bot ...`: the real CLI with the stub engine."""

from tests.bot.stub_engine import install_from_env

if __name__ == "__main__":
    install_from_env()
    from nstcli.cli.app import main

    main()
