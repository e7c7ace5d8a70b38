"""Interview Coach: a local-first coach for machine-learning interviews.

Importing the package is cheap; models, Chroma and torch load lazily where they are used.
"""

__version__ = "0.1.0"
