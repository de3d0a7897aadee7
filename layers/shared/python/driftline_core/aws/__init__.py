"""AWS primitives every stage uses: clients, S3 I/O, error codes, task tokens, event models. Imports no stage."""
