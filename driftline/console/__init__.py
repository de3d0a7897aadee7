"""The web console: runs, models and (in local mode) the outbox on one page each, read from the same AWS APIs as
the CLI, served on 127.0.0.1 by ``driftline console``."""
