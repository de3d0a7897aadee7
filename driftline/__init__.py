"""Driftline: an event-driven serverless MLOps pipeline for Amazon SageMaker, with a local mode."""
