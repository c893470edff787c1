"""ganloops instrument: plays exported model bundles live.

This package is the stage runtime. It imports and runs without torch: onnxruntime,
numpy, sounddevice, mido, python-osc and soundfile are all it needs.
"""

__version__ = "0.1.0"
