"""Helpers the Driftline job scripts share; shipped beside them so every SageMaker job can import them."""
