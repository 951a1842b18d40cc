"""Run directories, optimisers and schedules, checkpoints and the training state, the training loop and the stages."""
