"""Neural parts: the text encoders and the separation network."""
