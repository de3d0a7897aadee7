"""What Driftline costs: on-demand prices (the Price List API, or the snapshot shipped here), a run's jobs."""
