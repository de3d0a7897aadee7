"""Local mode's stand-in for the part of SageMaker's inference toolkit that a serving program on SageMaker's PyTorch
serving image imports: its error types (``errors``). Put on the import path of local servers of that image only."""
