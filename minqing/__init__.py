"""Minqing command line and demo city: the composition root over dashboard, layers and etl."""
