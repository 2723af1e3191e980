"""Training GRES models (`grefbench train`): data, schedule, loop, resumable state, logs."""
