"""The `mailbot` command: a click group (`app`), one small module per command family, all of them
registered by `commands`, which the `mailbot` script and `python -m mailbot` run.

Commands parse arguments and delegate to the store or the pipeline; any expected failure becomes a
one-line `ClickException`, never a traceback.
"""
