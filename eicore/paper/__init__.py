"""The paper's protocol: its prompt strings read from the original code at run time, and its
result tables as data."""
