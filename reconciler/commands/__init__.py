"""Commands that live in a module of their own; cli.py registers each with `cli.add_command`."""
