"""From an upload to a run: which uploads start a run, the dataset's config, and validation of the CSV."""
