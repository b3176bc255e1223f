"""More NumPy kernels for ONNX operators: shape-subgraph, attention and detector ops."""
from __future__ import annotations

KERNELS: dict = {}
