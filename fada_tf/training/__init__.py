"""Run directories, optimisers and schedules, callbacks, and the training stages."""
