"""Files in and out, torch-free: the reading core, the labeled-data formats, prediction input and output, and
atomic writes. Every command reads every format through here, so one bad line reads the same everywhere."""
