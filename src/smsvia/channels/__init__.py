"""One adapter per protocol behind one small interface (see base.py)."""
