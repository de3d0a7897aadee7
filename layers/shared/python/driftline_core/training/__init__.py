"""Preprocess, train and evaluate as SageMaker jobs, the quality gate, and the Model Registry."""
