"""nst: neural style transfer and super-resolution from the command line and Telegram."""

__version__ = "0.1.0"
