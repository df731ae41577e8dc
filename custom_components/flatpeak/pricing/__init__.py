"""The pull flow's arithmetic: price series, levels, windows and target windows."""
