"""Public contracts of certibus: event envelope, event catalogue, topics and the Pix referential."""
