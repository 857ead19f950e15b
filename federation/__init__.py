"""What crosses between nodes: signed records, the log, sync, the directory."""
