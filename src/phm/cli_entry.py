"""``python -m phm.cli_entry``: the CLI as a module (used by benchmarks)."""

from phm.cli import run

if __name__ == "__main__":
    run()
