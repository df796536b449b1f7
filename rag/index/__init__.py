"""Index parts (dense, keyword, chunk store) and the folder that holds them together."""
