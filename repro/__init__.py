"""repro: reproduce machine-learning papers and say honestly whether they reproduce."""

__version__ = "0.1.0"
