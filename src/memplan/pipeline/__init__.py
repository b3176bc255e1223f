"""Layer-pipelined execution: the simulator, stage balancing, the memory of batches in flight,
and small pipeline models."""
