"""posture: a desk posture monitor that watches through the webcam and nudges kindly."""

__version__ = "0.1.0"
