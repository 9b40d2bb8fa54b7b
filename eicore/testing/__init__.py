"""Test tools for eicore plugin authors: fakes and scripted stand-ins for real services, and
shared fixtures, helpers and tests for API model plugins."""
