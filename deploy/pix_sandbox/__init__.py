"""A stand-in for Pix's results processing, for local runs and demos (never used in production)."""
