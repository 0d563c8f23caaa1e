"""``python -m pipeline.cli``: the ``plumm`` command (how ``plumm serve`` starts its child processes)."""

from pipeline.cli import app

if __name__ == "__main__":
    app()
