"""The command line: argparse parsers, one module per command, and output."""
