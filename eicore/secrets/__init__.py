"""API keys from the environment, and masking them (in every form) wherever text leaves eicore."""
