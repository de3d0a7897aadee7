"""The dataset's endpoint: deploy or update it, resume the run when it settles, then set up what serves it."""
