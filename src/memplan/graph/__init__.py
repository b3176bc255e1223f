"""The model as memplan sees it: `Graph` (ir), the ONNX and TFLite importers, the bundled
models (zoo, mediapipe), generated networks and the int8 what-ifs. Imports nothing of memplan
but errors, units and fileio."""
