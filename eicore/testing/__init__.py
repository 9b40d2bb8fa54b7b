"""Test tools for eicore plugin authors: fakes and scripted stand-ins for real services."""
