"""Files other tools read: the plan JSON, problem and solution files, TFLite Micro offline
plans, and the C header."""
