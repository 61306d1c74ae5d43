"""Source adapters: one folder per backend kind, all with the same files."""
